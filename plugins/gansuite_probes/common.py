"""Helpers shared by the probes: image conversion, batched generation, D features, timing."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gansuite import GANModel, atomic_write_bytes, progress

__all__ = [
    "to_float",
    "to_uint8",
    "eval_mode",
    "model_device",
    "generate",
    "balanced_labels",
    "extract_features",
    "feature_layout",
    "Timer",
    "content_key",
    "TensorCache",
]


def to_float(images: torch.Tensor, device: Any = None) -> torch.Tensor:
    """uint8 ``[0, 255]`` -> float32 ``[-1, 1]`` (the range D and G work in)."""
    x = images.to(device=device, non_blocking=True) if device is not None else images
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float ``[-1, 1]`` -> uint8, rounded as a saved image would be."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8)


@contextlib.contextmanager
def eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Put modules in eval mode (BatchNorm uses running statistics); restore their mode after."""
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, flag in zip(modules, was, strict=True):
            m.train(flag)


def model_device(model: GANModel) -> torch.device:
    """The device the discriminator's parameters live on."""
    for p in model.discriminator.parameters():
        return p.device
    return torch.device("cpu")


def balanced_labels(model: GANModel, n: int, device: Any = None) -> torch.Tensor | None:
    """Class labels ``0, 1, ..., K-1, 0, 1, ...`` for ``n`` samples of a class-conditional model
    (every class equally often, up to one; no randomness), None for an unconditional one."""
    if not model.num_classes:
        return None
    return torch.arange(n, device=device) % model.num_classes


@torch.no_grad()
def generate(model: GANModel, z: torch.Tensor, batch_size: int = 256,
             labels: torch.Tensor | None = None) -> torch.Tensor:
    """Images from ``z`` through the model's ``eval_generator()`` in eval mode, batched; float32
    in ``[-1, 1]`` on z's device. A conditional model gets ``labels``, by default class-balanced."""
    y = labels if labels is not None else balanced_labels(model, z.shape[0], z.device)
    out = []
    with eval_mode(model.eval_generator()):
        for i in range(0, z.shape[0], batch_size):
            yi = None if y is None else y[i : i + batch_size]
            out.append(model.generate(z[i : i + batch_size], yi).float())
    return torch.cat(out) if out else torch.empty(0)


def _pooled(feats: list[torch.Tensor], pool: int) -> torch.Tensor:
    return torch.cat([F.adaptive_max_pool2d(f.float(), pool).flatten(1) for f in feats], dim=1)


def feature_layout(model: GANModel) -> list[int]:
    """Channel count of each conv layer ``model.features`` returns (one dummy image)."""
    x = torch.zeros(1, model.channels, model.image_size, model.image_size, device=model_device(model))
    with eval_mode(model.discriminator), torch.no_grad():
        return [int(f.shape[1]) for f in model.features(x)]


@torch.no_grad()
def extract_features(
    model: GANModel,
    images: torch.Tensor,
    *,
    device: Any = None,
    pool_size: int = 4,
    batch_size: int = 500,
    show_progress: bool = False,
    desc: str = "features",
) -> torch.Tensor:
    """Every conv layer of D, each adaptive-max-pooled to ``pool_size`` x ``pool_size``, concatenated.

    ``images`` are uint8 (real data) or float in ``[-1, 1]`` (generated); D runs in eval mode,
    without gradients, in channels_last, in batches. Returns float32 ``(N, features)`` on ``device``.
    """
    device = torch.device(device) if device is not None else model_device(model)
    n = int(images.shape[0])
    out: torch.Tensor | None = None
    with eval_mode(model.discriminator), progress(total=n, desc=desc, unit="img", enabled=show_progress) as bar:
        for i in range(0, n, batch_size):
            chunk = images[i : i + batch_size]
            x = to_float(chunk, device) if chunk.dtype == torch.uint8 else chunk.to(device).float()
            x = x.contiguous(memory_format=torch.channels_last)
            f = _pooled(model.features(x), pool_size)
            if out is None:
                out = torch.empty(n, f.shape[1], dtype=torch.float32, device=device)
            out[i : i + f.shape[0]] = f
            bar.update(int(f.shape[0]))
    if out is None:
        raise ValueError("no images to extract features from")
    return out


class Timer:
    """``with Timer() as t: ...; t.seconds`` (synchronises CUDA so GPU work is counted)."""

    def __init__(self, device: Any = None) -> None:
        self.device = torch.device(device) if device is not None else None
        self.seconds = 0.0

    def _sync(self) -> None:
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __enter__(self) -> Timer:
        self._sync()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sync()
        self.seconds = time.perf_counter() - self._start


def content_key(*parts: Any) -> str:
    """A hex digest of tensors (their dtype, shape and bytes) and other values (their repr)."""
    import hashlib

    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            t = part.detach().cpu().contiguous()
            digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:32]


class TensorCache:
    """Tensors (or dicts of tensors) on disk under ``folder``, named by :func:`content_key`,
    written atomically and read back weights-only; ``folder=None`` caches nothing."""

    def __init__(self, folder: str | Path | None, prefix: str) -> None:
        self.folder = Path(folder) if folder else None
        self.prefix = prefix

    def _path(self, key: str) -> Path | None:
        return self.folder / f"{self.prefix}-{key}.pt" if self.folder is not None else None

    def get(self, key: str) -> Any:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a torn or foreign file: recompute and overwrite it
            return None

    def get_or_compute(self, key: str, compute: Any) -> Any:
        """The cached value, else ``compute()`` stored; concurrent processes asking for the same
        key wait for the first one's result instead of computing it again (a lock file)."""
        value = self.get(key)
        if value is not None or self.folder is None:
            return value if value is not None else compute()
        self.folder.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.folder / f".{self.prefix}-{key}.lock"):
            value = self.get(key)
            if value is None:
                value = compute()
                self.put(key, value)
        return value

    def put(self, key: str, value: Any) -> None:
        path = self._path(key)
        if path is None:
            return
        buf = io.BytesIO()
        torch.save(value, buf)
        atomic_write_bytes(path, buf.getvalue())


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (POSIX ``flock``; no lock where unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
