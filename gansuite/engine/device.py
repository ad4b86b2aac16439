"""Choosing the training device and the fast settings that go with it.

- ``auto``: CUDA when available, else CPU. ``cuda`` without CUDA is a one-line error.
- CUDA: ``cudnn.benchmark``, TF32 matmuls, bf16 autocast. CPU: fp32 only (bf16 convolutions
  are far slower on CPUs without bf16 hardware), no denormals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from gansuite.contract.errors import RunError

__all__ = ["resolve_device", "configure_backends", "autocast", "synchronize", "fits_on_device"]


def resolve_device(name: str | Any, *, local_rank: int = 0) -> Any:
    """``"cpu" | "cuda" | "auto"`` (or a torch.device) -> ``torch.device``."""
    import torch

    if isinstance(name, torch.device):
        return name
    name = str(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RunError("--device cuda was requested but this torch build sees no CUDA device; "
                           "use --device cpu (or auto).")
        if name == "cuda":
            return torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
        return torch.device(name)
    if name != "cpu":
        raise RunError(f"Unknown device {name!r}: use cpu, cuda or auto.")
    return torch.device("cpu")


def configure_backends(device: Any) -> None:
    """Process-wide speed settings for ``device`` (safe to call more than once)."""
    import torch

    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        # Denormal floats (tiny gradients late in training) take a slow path on x86.
        torch.set_flush_denormal(True)


@contextlib.contextmanager
def autocast(device: Any, enabled: bool = True) -> Iterator[None]:
    """bf16 autocast on CUDA; a no-op elsewhere."""
    import torch

    if enabled and device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def synchronize(device: Any) -> None:
    """Wait for queued kernels (timing needs it on CUDA)."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fits_on_device(nbytes: int, device: Any, fraction: float = 0.4) -> bool:
    """Whether ``nbytes`` can live on ``device`` leaving room for training (CPU: always)."""
    import torch

    if device.type != "cuda":
        return True
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes <= fraction * free
