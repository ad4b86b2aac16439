"""Reference statistics of a real split, cached on disk by content.

An entry holds the float64 mean, covariance and covariance square root (FID) and the float32
features (KID, PRDC) of ``n`` real images: the first ``n`` of a permutation drawn under a fixed
seed, so every run and eval picks the same images. Its key is the sha256 of the selected
images' bytes (what was actually fed, after the host's resize and channel matching), the split
name, the extractor's sha256, its preprocessing and ``n``. Entries live under
``$GANSUITE_CACHE`` (else ``$XDG_CACHE_HOME/gansuite/cache``) in ``inception-reference/`` and are
written atomically; a second eval on the same data and extractor loads them instead of running
the extractor.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gansuite import ImageData, atomic_write, atomic_write_json, default_cache_dir
from gansuite_probes.distances import moments, psd_sqrt
from gansuite_probes.inception import embed

__all__ = ["Reference", "reference", "select", "cache_root", "reference_key", "image_batches"]

FORMAT = 1


def cache_root() -> Path:
    return default_cache_dir() / "inception-reference"


def select(n_total: int, n: int | None, seed: int = 0) -> torch.Tensor:
    """The first ``n`` (all if None) indices of a permutation of ``range(n_total)`` drawn under ``seed``."""
    perm = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))
    return perm[: n_total if n is None else min(n, n_total)]


def image_batches(images: torch.Tensor, idx: torch.Tensor, batch_size: int) -> Any:
    for i in range(0, idx.numel(), batch_size):
        yield images[idx[i : i + batch_size]]


def reference_key(images: torch.Tensor, idx: torch.Tensor, split: str, extractor: dict[str, Any]) -> str:
    """sha256 of the selected images (in order) + split + extractor hash + preprocessing + count."""
    digest = hashlib.sha256()
    for i in range(0, idx.numel(), 4096):
        digest.update(images[idx[i : i + 4096]].contiguous().numpy().tobytes())
    described = {"format": FORMAT, "split": split, "n": int(idx.numel()), "shape": list(images.shape[1:]),
                 "images_sha256": digest.hexdigest(), "extractor_sha256": extractor["extractor_sha256"],
                 "preprocessing": extractor["preprocessing"]}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


@dataclass
class Reference:
    """Statistics of the real reference images, on ``device``."""

    mean: torch.Tensor
    cov: torch.Tensor
    cov_sqrt: torch.Tensor
    n: int
    key: str
    cached: bool
    seconds: float
    compute_seconds: float
    path: Path | None = None
    _features: torch.Tensor | None = field(default=None, repr=False)

    def features(self) -> torch.Tensor:
        if self._features is None:
            if self.path is None:
                raise RuntimeError("reference features were not kept")
            self._features = _load(_file(self.path, "features"))["features"].to(self.mean.device)
        return self._features

    def describe(self) -> dict[str, Any]:
        saved = self.compute_seconds - self.seconds if self.cached else 0.0
        return {"n_reference": self.n, "reference_key": self.key[:16], "reference_cached": self.cached,
                "reference_seconds": round(self.seconds, 2),
                "reference_time_saved_s": round(max(saved, 0.0), 2)}


def _file(base: Path, kind: str) -> Path:
    return base.parent / f"{base.name}.{kind}.pt"


def _load(path: Path) -> dict[str, Any]:
    return torch.load(str(path), map_location="cpu", weights_only=True)


def _save(path: Path, obj: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write(path, lambda fh: fh.write(buf.getbuffer()), mode="wb")


def reference(extractor: Any, data: ImageData, split: str, n: int | None, *, batch_size: int,
              cache: bool = True, seed: int = 0, show_progress: bool = False) -> Reference:
    """Statistics of ``n`` images of ``data`` (all if None), loaded from the cache when present."""
    start = time.perf_counter()
    idx = select(len(data), n, seed)
    desc = extractor.describe()
    key = reference_key(data.images, idx, split, desc)
    device = extractor.device
    base = cache_root() / key
    stats_path = _file(base, "stats")
    if cache and stats_path.is_file() and _file(base, "features").is_file():
        stats = _load(stats_path)
        return Reference(mean=stats["mean"].to(device), cov=stats["cov"].to(device),
                         cov_sqrt=stats["cov_sqrt"].to(device), n=int(stats["n"]), key=key, cached=True,
                         seconds=time.perf_counter() - start, compute_seconds=float(stats["compute_seconds"]),
                         path=base)
    feats = embed(extractor, image_batches(data.images, idx, batch_size), int(idx.numel()),
                  show_progress=show_progress, desc=f"reference {split}")
    mean, cov = moments(feats)
    cov_sqrt = psd_sqrt(cov)
    seconds = time.perf_counter() - start
    if cache:
        _save(_file(base, "features"), {"features": feats.cpu()})
        _save(stats_path, {"mean": mean.cpu(), "cov": cov.cpu(), "cov_sqrt": cov_sqrt.cpu(),
                           "n": int(idx.numel()), "compute_seconds": seconds})
        atomic_write_json(base.parent / f"{key}.json", {"split": split, "n": int(idx.numel()),
                                                      "selection_seed": seed, **desc,
                                                      "compute_seconds": round(seconds, 2),
                                                      "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return Reference(mean=mean, cov=cov, cov_sqrt=cov_sqrt, n=int(idx.numel()), key=key, cached=False,
                     seconds=seconds, compute_seconds=seconds, path=base if cache else None, _features=feats)
