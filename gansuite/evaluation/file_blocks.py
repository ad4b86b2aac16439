"""A generator file's blocks: its leaf submodules run in order from Python, so probes can hook them.

A TorchScript module's compiled forward calls its submodules inside the interpreter, where no
Python forward hook fires (and ScriptModules refuse hooks); a ``torch.export`` program has no
submodules until ``torch.export.unflatten`` gives them back. :func:`block_chain` lists the file
network's leaf submodules in the order they were registered and keeps them only when running
them one after another, each behind a small Python module that hooks can see, reproduces the
network's own output exactly (checked at load on two latents). G is then that chain, and its
blocks (:meth:`BlockChain.blocks`) are the outputs of its activation layers, and of its last
layer when that is not one. A forward that does anything between its submodules (reshapes,
sums, branches) gives None, and probes that hook G's blocks are refused, naming what they need.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["BlockChain", "ChainLayer", "block_chain", "ACTIVATIONS", "NO_BLOCKS"]

ACTIVATIONS = frozenset({"ReLU", "LeakyReLU", "Tanh", "Sigmoid", "ELU", "SELU", "CELU", "SiLU", "GELU", "PReLU",
                         "ReLU6", "Hardtanh", "Mish", "Softplus"})
NO_BLOCKS = ("running its submodules in the order they were registered does not reproduce its output (its forward "
             "does more than chain them); save G as a chain of layers (e.g. an nn.Sequential of conv, BatchNorm and "
             "activation modules, scripted or exported) to run probes that hook G's blocks")


class ChainLayer(nn.Module):
    """One submodule of a file's network, called from Python so forward hooks fire."""

    def __init__(self, net: Any, kind: str) -> None:
        super().__init__()
        self.net = net
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BlockChain(nn.Module):
    """A file's G as its leaf submodules in order; ``flat_z`` as for
    :class:`~gansuite.evaluation.foreign_model.FileNetwork`."""

    def __init__(self, leaves: list[tuple[str, Any, str]], flat_z: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList([ChainLayer(m, kind) for _, m, kind in leaves])
        self.names = [name for name, _, _ in leaves]
        self.flat_z = flat_z

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z if self.flat_z or z.dim() != 2 else z[:, :, None, None]
        for layer in self.layers:
            x = layer(x)
        return x.float()

    def blocks(self) -> list[nn.Module]:
        """The activation layers, and the last layer when it is not one."""
        layers = list(self.layers)
        out = [m for m in layers if getattr(m, "kind", "") in ACTIVATIONS]
        if layers and getattr(layers[-1], "kind", "") not in ACTIVATIONS:
            out.append(layers[-1])
        return out


def _leaves(module: Any, prefix: str, kinds: dict[str, str]) -> list[tuple[str, Any, str]]:
    children = list(module.named_children())
    if not children:
        kind = kinds.get(prefix) or str(getattr(module, "original_name", type(module).__name__))
        return [(prefix, module, kind)]
    out: list[tuple[str, Any, str]] = []
    for name, child in children:
        out += _leaves(child, f"{prefix}.{name}" if prefix else name, kinds)
    return out


def _export_kinds(program: Any) -> dict[str, str]:
    """Each submodule's class name, as an exported program's graph remembers it."""
    kinds: dict[str, str] = {}
    for node in program.graph.nodes:
        for fqn, cls in (node.meta.get("nn_module_stack") or {}).values():
            name = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
            kinds[fqn] = name.rsplit(".", 1)[-1]
    return kinds


def block_chain(net: Any, flat_z: bool, z_dim: int, device: Any) -> BlockChain | None:
    """``net`` (a loaded TorchScript module or the wrapper of an exported program) as a
    :class:`BlockChain`, or None when its leaves in order do not reproduce its output exactly
    or name fewer than two blocks."""
    program = getattr(net, "program", None)
    kinds: dict[str, str] = {}
    source = net
    try:
        if program is not None:
            kinds = _export_kinds(program)
            source = torch.export.unflatten(program).to(device)
        leaves = [leaf for leaf in _leaves(source, "", kinds) if leaf[0]]
    except Exception:  # noqa: BLE001 - a program unflatten cannot split: no blocks
        return None
    if len(leaves) < 2:
        return None
    chain = BlockChain(leaves, flat_z)
    z = torch.randn(2, z_dim, generator=torch.Generator().manual_seed(0)).to(device)
    try:
        with torch.no_grad():
            whole = net(z if flat_z else z[:, :, None, None]).float()
            same = torch.equal(chain(z), whole)
    except Exception:  # noqa: BLE001 - a leaf that cannot run on its own: no blocks
        return None
    return chain if same and len(chain.blocks()) >= 2 else None
