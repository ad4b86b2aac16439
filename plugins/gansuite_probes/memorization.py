"""The ``memorization`` probe: nearest training neighbours of generated samples (paper, section 6.1).

Distances are Euclidean, in a fixed feature space (:class:`gansuite_probes.common.FixedFeatures`,
standardised on the searched training images: the same network for every run, so values of two
runs on one dataset are comparable) and in pixels (images in [-1, 1]). ``n_holdout`` real training
images are kept out of the search set: the median nearest-neighbour distance of one half sets the
scale, the other half is the ``real`` control.

Per sample, ratio = nearest-neighbour distance / scale. The value is the median ratio, a two-sided
measure: about 1 for samples as close to the training set as new real images are; below 1 for a
generator that reproduces training images (0 for exact copies: the ``copying`` control); above 1
for samples far from every training image (a randomly initialised generator: the ``random``
control). ``copy_fraction`` is the share of samples closer than the ``quantile`` of the held-out
distances (real data: about ``quantile``; a copier: 1). CIs: percentile bootstrap over samples
and held-out images. A PNG per space shows the trained generator's closest pairs.

For each control (``random``, ``early``, ``gaussian-fit``, ``copying``, ``real``) a
``nn_ratio_gain`` row (variant ``trained-<control>``) gives ``|ln ratio(control)| - |ln
ratio(trained)|`` (higher: the trained G is closer to 1), its interval resampling the samples (the
generators' paired by latent: all draw from the same z; the held-out real images of the ``real``
control are not paired with the samples, so that row resamples both sets independently) and the
held-out scale images (once for both sides).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from gansuite import OptionError, ProbeContext, save_image_grid
from gansuite_probes.common import (
    SAMPLE_STD_N,
    FixedScaler,
    bootstrap_ci,
    ci_fields,
    fixed_features,
    generate,
    generator_variants,
    sample_std,
    to_float,
    with_sample_std,
)
from gansuite_probes.config import MemorizationConfig
from gansuite_probes.resampling import bootstrap_gain, gain_labels

__all__ = ["MemorizationProbe", "build", "nearest", "ratio_stats", "ratio_gain"]


def build(config: MemorizationConfig) -> MemorizationProbe:
    """Factory registered for the ``memorization`` probe."""
    return MemorizationProbe(config)


def nearest(queries: torch.Tensor, base: torch.Tensor, chunk: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance to, and index of, each query row's nearest row of ``base`` (chunked ``cdist``)."""
    dists, idx = [], []
    for i in range(0, queries.shape[0], chunk):
        d = torch.cdist(queries[i : i + chunk], base)
        best = d.min(dim=1)
        dists.append(best.values)
        idx.append(best.indices)
    return torch.cat(dists), torch.cat(idx)


def ratio_stats(d_gen: torch.Tensor, d_ref: torch.Tensor, quantile: float, n_boot: int = 1000,
                seed: int = 0) -> dict[str, Any]:
    """Median nearest-neighbour ratio of samples (``d_gen``) to held-out real images (``d_ref``),
    with its bootstrap CI, quartiles and the copy fraction."""
    d_gen, d_ref = d_gen.double().cpu(), d_ref.double().cpu()

    def stat(i: torch.Tensor, j: torch.Tensor) -> float:
        return float(d_gen[i].median() / d_ref[j].median().clamp_min(1e-30))

    value, lo, hi = bootstrap_ci(stat, (d_gen.numel(), d_ref.numel()), n_boot=n_boot, seed=seed)
    scale = float(d_ref.median().clamp_min(1e-30))
    q = torch.quantile(d_gen / scale, torch.tensor([0.1, 0.25, 0.75, 0.9], dtype=torch.float64)).tolist()
    threshold = float(torch.quantile(d_ref, quantile))
    return {
        "value": value, **ci_fields(value, lo, hi), "log_gap": abs(math.log(max(value, 1e-6))),
        "ratio_q10": q[0], "ratio_q25": q[1], "ratio_q75": q[2], "ratio_q90": q[3],
        "copy_fraction": float((d_gen < threshold).double().mean()), "expected_copy_fraction": quantile,
        "median_nn": float(d_gen.median()), "median_nn_holdout": scale, "min_nn": float(d_gen.min()),
    }


def _log_gap_score(d_gen: torch.Tensor, d_ref: torch.Tensor) -> Any:
    """``-|ln median ratio|`` of resampled samples and resampled held-out scale images."""

    def score(idx: torch.Tensor, ref: torch.Tensor | None) -> torch.Tensor:
        scale = d_ref.median().expand(idx.shape[0]) if ref is None else d_ref[ref].median(1).values
        return -(d_gen[idx].median(1).values / scale.clamp_min(1e-30)).clamp_min(1e-6).log().abs()

    return score


def ratio_gain(trained: torch.Tensor, control: torch.Tensor, d_ref: torch.Tensor, *, paired: bool, n_boot: int,
               seed: int) -> dict[str, Any]:
    """``|ln ratio(control)| - |ln ratio(trained)|`` from the nearest-neighbour distances of each
    side's samples and of the held-out scale images, resampling samples (``paired``: the same
    indices for both sides) and scale images."""
    trained, control, d_ref = trained.double().cpu(), control.double().cpu(), d_ref.double().cpu()
    return bootstrap_gain(_log_gap_score(trained, d_ref), _log_gap_score(control, d_ref), int(trained.numel()),
                          int(control.numel()), n_shared=int(d_ref.numel()), paired=paired, n_boot=n_boot,
                          seed=seed, unit="samples (paired by latent)" if paired else "samples",
                          control_unit="held-out real images", shared_unit="held-out scale images")


class MemorizationProbe:
    """Median nearest-neighbour ratio of samples against held-out real data, with controls."""

    def __init__(self, config: MemorizationConfig | None = None) -> None:
        self.config = config or MemorizationConfig()

    def _split(self, ctx: ProbeContext) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Generator]:
        cfg = self.config
        train = ctx.load_split(ctx.eval.train_split)
        gen = torch.Generator().manual_seed(ctx.seed)
        order = torch.randperm(len(train), generator=gen)
        if cfg.n_holdout >= len(order):
            raise OptionError(f"n_holdout={cfg.n_holdout} leaves no training images to search "
                              f"({len(order)} in the split); lower -o memorization.n_holdout.")
        half = cfg.n_holdout // 2
        search = train.images[order[cfg.n_holdout :][: cfg.max_train].sort().values]
        return search, train.images[order[:half]], train.images[order[half : cfg.n_holdout]], gen

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        search, scale_set, real_set, gen = self._split(ctx)
        kw = dict(device=ctx.device, batch_size=cfg.batch_size)
        f_base, fingerprint = fixed_features(search, **kw)
        scaler = FixedScaler(f_base)
        scaler.apply_(f_base)
        bases = {"fixed": f_base, "pixel": to_float(search, ctx.device).flatten(1)}

        def embed(images: torch.Tensor) -> dict[str, torch.Tensor]:
            px = (to_float(images, ctx.device) if images.dtype == torch.uint8 else images).flatten(1)
            return {"fixed": scaler.apply_(fixed_features(images, **kw)[0]), "pixel": px}

        d_ref = {space: nearest(x, bases[space])[0] for space, x in embed(scale_set).items()}
        z = ctx.model.sample_z(cfg.n_samples, generator=gen).to(ctx.device)
        variants = generator_variants(ctx, search[: cfg.copy_bank] if cfg.copying_control else None,
                                      cfg.random_control)
        samples: list[tuple[str, torch.Tensor]] = [(v.name, generate(v, z, cfg.batch_size)) for v in variants]
        samples.append(("real", to_float(real_set, ctx.device)))
        rows = []
        dists: dict[tuple[str, str], torch.Tensor] = {}
        for variant, images in samples:
            for space, x in embed(images).items():
                d_gen, nn_idx = nearest(x, bases[space])
                dists[variant, space] = d_gen
                row = {"metric": "nn_ratio", "variant": variant, "space": space,
                       **ratio_stats(d_gen, d_ref[space], cfg.quantile, cfg.n_boot, ctx.seed),
                       "n_samples": int(x.shape[0]), "n_train_searched": int(search.shape[0]),
                       "n_holdout": int(d_ref[space].numel()), "better": "closer to 1",
                       "feature_space": fingerprint if space == "fixed" else "pixels in [-1, 1]"}
                if variant == "trained":
                    row["figure"] = self._pairs(images, search, d_gen, nn_idx, space, ctx)
                rows.append(row)
        real_std = sample_std(real_set[:SAMPLE_STD_N])
        for row in rows:
            if row["variant"] == "real":
                row["sample_std"] = round(real_std, 5)
        gains = []
        for space, d_ref_space in d_ref.items():
            for control, _ in samples[1:]:
                gain = ratio_gain(dists["trained", space], dists[control, space], d_ref_space,
                                  paired=control != "real", n_boot=cfg.n_boot, seed=ctx.seed)
                gains.append({**gain_labels(control, "nn_ratio"), **gain, "space": space,
                              "better": "higher: |ln nn_ratio| of the control minus the trained G's "
                                        "(closer to 1 is better)"})
        return [*with_sample_std(rows, variants, ctx), *gains]

    def _pairs(self, images: torch.Tensor, search: torch.Tensor, d_gen: torch.Tensor, nn_idx: torch.Tensor,
               space: str, ctx: ProbeContext) -> str:
        closest = d_gen.argsort()[: self.config.n_pairs].cpu()
        pairs = torch.stack([images[closest].cpu(), to_float(search[nn_idx.cpu()[closest]])], dim=1)
        return str(save_image_grid(pairs.flatten(0, 1), ctx.out_dir / f"memorization-{space}.png", nrow=2 * 4))
