"""Import pytorch/examples' ``dcgan/main.py`` checkpoints into ``dcgan-pytorch-examples``.

``main.py`` saves ``netG_epoch_N.pth`` / ``netD_epoch_N.pth`` with ``torch.save(net.state_dict())``.
Its networks are one ``nn.Sequential`` called ``main`` each, always 64x64 (``--imageSize`` only
resizes the data):

- G: ``main.0`` ConvTranspose2d(nz, 8 ngf, 4, 1, 0) on z as ``(N, nz, 1, 1)``, ``main.1`` BatchNorm2d,
  then ConvTranspose2d(4, 2, 1) + BatchNorm2d at ``main.3/4``, ``main.6/7``, ``main.9/10``, and
  ``main.12`` ConvTranspose2d(ngf, nc) + Tanh. No conv has a bias.
- D: ``main.0`` Conv2d(nc, ndf, 4, 2, 1), then Conv2d + BatchNorm2d at ``main.2/3``, ``main.5/6``,
  ``main.8/9``, and ``main.11`` Conv2d(8 ndf, 1, 4, 1, 0) + Sigmoid. No conv has a bias.

gansuite's DCGAN computes the same functions in eval mode (which every probe uses): G's first
transposed conv on a 1x1 input is a matrix multiply (``project``), and its BatchNorm2d over 8 ngf
channels equals a BatchNorm1d over the 16 x 8 ngf projected units with each channel's running
statistics and affine parameters repeated over its 16 positions; D's last conv on a 4x4 map is a
linear layer (``head``) on the flattened map, and the logit it returns is the input of
pytorch/examples' Sigmoid. The biases gansuite's layers have and pytorch/examples' lack are zero.
(In train mode the projected BatchNorm would normalise per unit, not per channel: that is the
one place the two differ, and no probe trains.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from gansuite import CheckpointError, ImportedWeights

__all__ = ["import_state", "SOURCE", "G_CONVS", "D_CONVS"]

SOURCE = "pytorch/examples dcgan/main.py (netG/netD state dicts)"
G_CONVS = (0, 3, 6, 9, 12)  # main.K of each transposed conv; BatchNorm at K + 1 except the last
D_CONVS = (0, 2, 5, 8, 11)  # main.K of each conv; BatchNorm at K + 1 except the first and last
_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _take(state: Mapping[str, Any], key: str, what: str, dims: int) -> torch.Tensor:
    value = state.get(key)
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(f"The {what} file is not a pytorch/examples dcgan state dict: it lacks {key} "
                              f"(it has {', '.join(list(state)[:4])}, ...); pass the netG/netD_epoch_N.pth "
                              "files main.py saves, or name the model that saved it with --model.")
    if value.dim() != dims:
        raise CheckpointError(f"The {what} file's {key} has shape {tuple(value.shape)}; pytorch/examples' "
                              f"dcgan has a {dims}-D tensor there.")
    return value


def _bn(state: Mapping[str, Any], src: str, dst: str, what: str, repeat: int = 1) -> dict[str, torch.Tensor]:
    out = {}
    for name in _BN:
        value = _take(state, f"{src}.{name}", what, 0 if name == "num_batches_tracked" else 1)
        out[f"{dst}.{name}"] = value if name == "num_batches_tracked" or repeat == 1 else \
            value.repeat_interleave(repeat)
    return out


def _generator(state: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    what = "generator"
    first = _take(state, "main.0.weight", what, 4)  # (nz, 8 ngf, 4, 4)
    nz, c0 = int(first.shape[0]), int(first.shape[1])
    if tuple(first.shape[2:]) != (4, 4) or c0 % 8:
        raise CheckpointError(f"The generator file's main.0.weight has shape {tuple(first.shape)}, not "
                              "(nz, 8 * ngf, 4, 4) as in pytorch/examples' dcgan.")
    out = {"project.weight": first.permute(1, 2, 3, 0).reshape(c0 * 16, nz).contiguous()}
    out.update(_bn(state, "main.1", "project_bn", what, repeat=16))
    for i, k in enumerate(G_CONVS[1:]):
        weight = _take(state, f"main.{k}.weight", what, 4)
        out[f"main.{3 * i}.weight"] = weight
        if k != G_CONVS[-1]:
            out.update(_bn(state, f"main.{k + 1}", f"main.{3 * i + 1}", what))
        else:
            out[f"main.{3 * i}.bias"] = torch.zeros(weight.shape[1], dtype=weight.dtype)
    nc = int(state["main.12.weight"].shape[1])
    return out, {"z_dim": nz, "ngf": c0 // 8, "channels": nc}


def _discriminator(state: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    what = "discriminator"
    first = _take(state, "main.0.weight", what, 4)  # (ndf, nc, 4, 4)
    out = {"blocks.0.0.weight": first, "blocks.0.0.bias": torch.zeros(first.shape[0], dtype=first.dtype)}
    for i, k in enumerate(D_CONVS[1:-1], start=1):
        out[f"blocks.{i}.0.weight"] = _take(state, f"main.{k}.weight", what, 4)
        out.update(_bn(state, f"main.{k + 1}", f"blocks.{i}.1", what))
    last = _take(state, f"main.{D_CONVS[-1]}.weight", what, 4)  # (1, 8 ndf, 4, 4)
    out["head.weight"] = last.reshape(1, -1).contiguous()  # (C, H, W) order, as Discriminator.head reads it
    out["head.bias"] = torch.zeros(1, dtype=last.dtype)
    return out, {"ndf": int(first.shape[0]), "channels": int(first.shape[1])}


def import_state(generator_state: Mapping[str, Any],
                 discriminator_state: Mapping[str, Any] | None) -> ImportedWeights:
    """``dcgan-pytorch-examples``'s importer: pytorch/examples' key names to gansuite's."""
    g, g_opts = _generator(generator_state)
    options: dict[str, Any] = {"z_dim": g_opts["z_dim"], "ngf": g_opts["ngf"], "kernel_size": 4,
                               "z_prior": "normal", "image_size": 64}
    d = None
    if discriminator_state is not None:
        d, d_opts = _discriminator(discriminator_state)
        if d_opts["channels"] != g_opts["channels"]:
            raise CheckpointError(f"The generator makes {g_opts['channels']}-channel images but the discriminator "
                                  f"reads {d_opts['channels']} channels: the two files are not one model's.")
        options["ndf"] = d_opts["ndf"]
    return ImportedWeights(generator=g, discriminator=d, options=options, image_size=64,
                           channels=g_opts["channels"], source=SOURCE)
