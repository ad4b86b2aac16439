"""Reference statistics of a real split, cached on disk by content.

An entry holds the float64 mean, covariance and covariance square root (FID) and the float32
features (KID, PRDC) of ``n`` real images: the first ``n`` of a permutation drawn under a fixed
seed, so every run and eval picks the same images. Its key is the sha256 of the selected
images' bytes (what was actually fed, after the host's resize and channel matching), the split
name, the extractor's sha256, its preprocessing and ``n``. Entries live under
``$GANSUITE_CACHE`` (else ``$XDG_CACHE_HOME/gansuite/cache``) in ``inception-reference/`` and are
written atomically; a second eval on the same data and extractor loads them instead of running
the extractor.

An entry is checked before it is used: each file carries the entry's key, its image count and a
sha256 of its tensors, the stats file also the features file's checksum, and every value must
be finite. An entry that fails (another entry's files copied over, a count that differs from the
one asked for, NaN, an older entry without checksums) is recomputed and rewritten. A file that
cannot be read at all (truncated, or crafted to load objects) and a cache location that is not
a folder stop the eval in one line naming the file and what to do.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gansuite import DataError, ImageData, atomic_write, atomic_write_json, default_cache_dir
from gansuite_probes.distances import moments, psd_sqrt
from gansuite_probes.inception import embed

__all__ = ["Reference", "reference", "select", "cache_root", "reference_key", "image_batches", "checksum"]

FORMAT = 1


def cache_root() -> Path:
    """``$GANSUITE_CACHE/inception-reference`` (or the user cache's); refused in one line when
    something on the way is a file, not a folder."""
    base = default_cache_dir()
    root = base / "inception-reference"
    for folder in (base, root):
        if folder.exists() and not folder.is_dir():
            raise DataError(f"The reference-statistics cache {folder} is a file, not a folder; point "
                            "GANSUITE_CACHE at a folder (or unset it), or pass -o cache=false.")
    return root


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
    features_sha256: str = ""
    _features: torch.Tensor | None = field(default=None, repr=False)
    _recompute: Callable[[], torch.Tensor] | None = field(default=None, repr=False)

    def features(self) -> torch.Tensor:
        if self._features is None:
            if self.path is None:
                raise RuntimeError("reference features were not kept")
            feats = _checked_features(self.path, self.key, self.n, self.features_sha256)
            if feats is None:  # damaged or swapped since the stats were read: recompute them
                if self._recompute is None:
                    raise RuntimeError("reference features cannot be recomputed")
                feats = self._recompute()
            self._features = feats.to(self.mean.device)
        return self._features

    def describe(self) -> dict[str, Any]:
        saved = self.compute_seconds - self.seconds if self.cached else 0.0
        return {"n_reference": self.n, "reference_key": self.key[:16], "reference_cached": self.cached,
                "reference_seconds": round(self.seconds, 2),
                "reference_time_saved_s": round(max(saved, 0.0), 2)}


def _file(base: Path, kind: str) -> Path:
    return base.parent / f"{base.name}.{kind}.pt"


def _load(path: Path) -> dict[str, Any]:
    """A cache file's dict; one line naming the file and the fix when it cannot be read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": the error says enough
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a zip, or a pickle a weights-only load refuses
        text = " ".join(str(exc).split())
        why = ("it holds objects a cache file never holds (it may have been crafted to run code), so it "
               "was not loaded" if "Weights only load failed" in text else
               (text.split(". ")[0].rstrip(".")[:200] or type(exc).__name__))
        raise DataError(f"Cannot read the cached reference statistics {path}: {why}; delete it (the next "
                        "eval recomputes it), or pass -o cache=false.") from None
    return obj if isinstance(obj, dict) else {}


def _save(path: Path, obj: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    try:
        atomic_write(path, lambda fh: fh.write(buf.getbuffer()), mode="wb")
    except OSError as exc:
        raise DataError(f"Cannot write the reference-statistics cache {path}: {exc.strerror or exc}; point "
                        "GANSUITE_CACHE at a writable folder, or pass -o cache=false.") from None


def checksum(*tensors: torch.Tensor) -> str:
    """sha256 over the tensors' dtypes, shapes and bytes (what an entry's files carry)."""
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _finite(*tensors: Any) -> bool:
    return all(isinstance(t, torch.Tensor) and t.is_floating_point() and bool(torch.isfinite(t).all())
               for t in tensors)


def _checked_stats(base: Path, key: str, n: int) -> dict[str, Any] | None:
    """The entry's stats when they are this key's, of ``n`` images, intact and finite; else None."""
    stats = _load(_file(base, "stats"))
    tensors: list[Any] = [stats.get(k) for k in ("mean", "cov", "cov_sqrt")]
    if stats.get("key") != key or stats.get("n") != n or not _finite(*tensors):
        return None
    if stats.get("sha256") != checksum(*tensors) or not isinstance(stats.get("features_sha256"), str):
        return None
    return stats


def _checked_features(base: Path, key: str, n: int, sha256: str) -> torch.Tensor | None:
    """The entry's features when they are this key's, ``n`` rows, the checksum the stats
    recorded, finite; else None."""
    stored = _load(_file(base, "features"))
    feats = stored.get("features")
    if stored.get("key") != key or stored.get("n") != n or not isinstance(feats, torch.Tensor):
        return None
    if not _finite(feats) or feats.dim() != 2 or feats.shape[0] != n or checksum(feats) != sha256:
        return None
    return feats


def reference(extractor: Any, data: ImageData, split: str, n: int | None, *, batch_size: int,
              cache: bool = True, seed: int = 0, show_progress: bool = False) -> Reference:
    """Statistics of ``n`` images of ``data`` (all if None), loaded from the cache when present."""
    start = time.perf_counter()
    idx = select(len(data), n, seed)
    desc = extractor.describe()
    key = reference_key(data.images, idx, split, desc)
    device = extractor.device
    base = cache_root() / key
    n_sel = int(idx.numel())
    stats = None
    if cache and _file(base, "stats").is_file() and _file(base, "features").is_file():
        stats = _checked_stats(base, key, n_sel)  # None: damaged, swapped or NaN -> recomputed below

    def compute_features() -> torch.Tensor:
        return embed(extractor, image_batches(data.images, idx, batch_size), n_sel,
                     show_progress=show_progress, desc=f"reference {split}")

    if stats is not None:
        def recompute() -> torch.Tensor:  # the features file went bad after the stats were read
            feats = compute_features()
            _save(_file(base, "features"), {"features": feats.cpu(), "key": key, "n": n_sel})
            return feats

        return Reference(mean=stats["mean"].to(device), cov=stats["cov"].to(device),
                         cov_sqrt=stats["cov_sqrt"].to(device), n=n_sel, key=key, cached=True,
                         seconds=time.perf_counter() - start, compute_seconds=float(stats["compute_seconds"]),
                         path=base, features_sha256=stats["features_sha256"], _recompute=recompute)
    feats = compute_features()
    mean, cov = moments(feats)
    cov_sqrt = psd_sqrt(cov)
    seconds = time.perf_counter() - start
    feats_sha = checksum(feats)
    if cache:
        _save(_file(base, "features"), {"features": feats.cpu(), "key": key, "n": n_sel})
        _save(_file(base, "stats"), {"mean": mean.cpu(), "cov": cov.cpu(), "cov_sqrt": cov_sqrt.cpu(),
                                     "n": n_sel, "key": key, "sha256": checksum(mean, cov, cov_sqrt),
                                     "features_sha256": feats_sha, "compute_seconds": seconds})
        atomic_write_json(base.parent / f"{key}.json", {"split": split, "n": n_sel,
                                                      "selection_seed": seed, **desc,
                                                      "compute_seconds": round(seconds, 2),
                                                      "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return Reference(mean=mean, cov=cov, cov_sqrt=cov_sqrt, n=n_sel, key=key, cached=False,
                     seconds=seconds, compute_seconds=seconds, path=base if cache else None,
                     features_sha256=feats_sha, _features=feats)
