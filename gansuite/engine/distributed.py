"""Data-parallel training across processes (``torchrun --nproc_per_node=N -m gansuite run ...``).

torchrun sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`init` then joins the process
group (gloo on CPU, NCCL on CUDA). Every rank walks the same seeded permutation of the data and
takes its own slice of each global batch, so ranks never see the same image in a step. Only rank
0 writes files and shows progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from gansuite.contract.errors import OptionError, RunError
from gansuite.engine.device import resolve_device

__all__ = ["DistContext", "init", "shutdown", "BatchSampler", "seed_for"]


@dataclass
class DistContext:
    """This process's place in the job (``world_size == 1``: no process group)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def any_true(self, flag: bool, device: Any) -> bool:
        """True when ``flag`` is true on any rank (collective: every rank must call it)."""
        if not self.enabled:
            return flag
        import torch
        import torch.distributed as dist

        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def check_in_sync(self, modules: list[Any], device: Any) -> None:
        """Raise :class:`RunError` when the ranks' parameters differ (a broken gradient sync)."""
        if not self.enabled:
            return
        import torch
        import torch.distributed as dist

        total = torch.zeros(2, dtype=torch.float64, device=device)
        for m in modules:
            for p in m.parameters():
                total[0] += p.detach().double().sum()
                total[1] += p.detach().double().square().sum()
        gathered = [torch.zeros_like(total) for _ in range(self.world_size)]
        dist.all_gather(gathered, total)
        if any(not torch.equal(g, gathered[0]) for g in gathered):
            raise RunError("The ranks' weights diverged from each other: the gradient all-reduce did "
                           "not keep them in sync. Rerun on one process and report the setup.")


def init(device_name: str) -> DistContext:
    """Join the process group when launched by torchrun; otherwise a single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if resolve_device(device_name, local_rank=local).type == "cuda" else "gloo"
    if not dist.is_initialized():
        try:
            dist.init_process_group(backend=backend)
        except (RuntimeError, ValueError) as exc:
            raise RunError(f"Cannot join the {backend} process group: {exc}") from None
    return DistContext(rank=rank, local_rank=local, world_size=world, backend=backend)


def shutdown(ctx: DistContext) -> None:
    """Leave the process group (no-op on one process)."""
    if ctx.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def seed_for(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (seed, step, rank...): no state to checkpoint."""
    import numpy as np

    state = np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


class BatchSampler:
    """Global batches of indices from a seeded per-epoch permutation (last partial batch dropped).

    The position is ``(epoch, batch)``; the permutation of an epoch is a pure function of the
    seed and the epoch, so a checkpoint only stores the position.
    """

    def __init__(self, n: int, batch_size: int, seed: int, ctx: DistContext) -> None:
        if batch_size % ctx.world_size:
            raise OptionError(f"--batch-size {batch_size} must be divisible by the {ctx.world_size} "
                              "processes (each takes an equal share of every batch).")
        if n < batch_size:
            raise OptionError(f"The training split holds {n} images, fewer than one batch of "
                              f"{batch_size}; lower --batch-size.")
        self.n, self.batch_size, self.seed, self.ctx = n, batch_size, seed, ctx
        self.per_epoch = n // batch_size
        self.local = batch_size // ctx.world_size
        self.epoch, self.batch = 0, 0
        self._perm: Any = None
        self._perm_epoch = -1

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch": self.batch, "seed": self.seed, "n": self.n,
                "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if int(state["n"]) != self.n or int(state["batch_size"]) != self.batch_size:
            raise RunError(f"The checkpoint was taken on {state['n']} images in batches of "
                           f"{state['batch_size']}; this run has {self.n} in batches of "
                           f"{self.batch_size}. Resume with the same data.")
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])

    def _permutation(self, device: Any) -> Any:
        import torch

        if self._perm_epoch != self.epoch:
            gen = torch.Generator().manual_seed(seed_for(self.seed, self.epoch, 0xDA7A))
            self._perm = torch.randperm(self.n, generator=gen).to(device)
            self._perm_epoch = self.epoch
        return self._perm

    def next(self, device: Any) -> Any:
        """This rank's indices of the next global batch (advances the position)."""
        perm = self._permutation(device)
        start = self.batch * self.batch_size + self.ctx.rank * self.local
        idx = perm[start : start + self.local]
        self.batch += 1
        if self.batch >= self.per_epoch:
            self.epoch, self.batch = self.epoch + 1, 0
        return idx
