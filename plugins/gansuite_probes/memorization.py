"""The ``memorization`` probe: nearest training neighbours of generated samples.

Distances are Euclidean, in pixels (images in [-1, 1]) and in D-feature space (pooled features
standardised on the training images). The reference is the same distance for ``n_holdout``
real training images held out of the search set: a generator that samples like the data puts
about ``quantile`` of its samples closer than the ``quantile`` of the held-out distances; a
generator that copies training images puts many more there. Score = that fraction (and its
ratio to ``quantile``). A PNG shows the closest generated/training pairs.
"""

from __future__ import annotations

from typing import Any

import torch

from gansuite import OptionError, ProbeContext, save_image_grid
from gansuite_probes.common import extract_features, generate, to_float
from gansuite_probes.config import MemorizationConfig
from gansuite_probes.l2svm import Standardizer

__all__ = ["MemorizationProbe", "build", "nearest"]


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


class MemorizationProbe:
    """Fraction of samples unusually close to a training image, in pixels and D features."""

    def __init__(self, config: MemorizationConfig | None = None) -> None:
        self.config = config or MemorizationConfig()

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        train = ctx.load_split(ctx.eval.train_split)
        gen = torch.Generator().manual_seed(ctx.seed)
        order = torch.randperm(len(train), generator=gen)
        if cfg.n_holdout >= len(order):
            raise OptionError(f"n_holdout={cfg.n_holdout} leaves no training images to search "
                              f"({len(order)} in the split); lower -o memorization.n_holdout.")
        holdout_idx = order[: cfg.n_holdout]
        search_idx = order[cfg.n_holdout :][: cfg.max_train].sort().values
        search = train.images[search_idx]
        holdout = train.images[holdout_idx]
        z = ctx.model.sample_z(cfg.n_samples, generator=gen).to(ctx.device)
        fake = generate(ctx.model, z, cfg.batch_size)

        spaces: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        base_px = to_float(search, ctx.device).flatten(1)
        spaces["pixel"] = (base_px, to_float(holdout, ctx.device).flatten(1), fake.flatten(1))
        kw = dict(device=ctx.device, batch_size=cfg.batch_size)
        f_base = extract_features(ctx.model, search, **kw)
        scaler = Standardizer(f_base)
        spaces["feature"] = (scaler.apply_(f_base), scaler.apply_(extract_features(ctx.model, holdout, **kw)),
                             scaler.apply_(extract_features(ctx.model, fake, **kw)))
        rows = []
        for space, (base, held, gen_x) in spaces.items():
            d_ref, _ = nearest(held, base)
            d_gen, nn_idx = nearest(gen_x, base)
            threshold = torch.quantile(d_ref.double().cpu(), cfg.quantile)
            frac = float((d_gen.double().cpu() < threshold).double().mean())
            closest = d_gen.argsort()[: cfg.n_pairs]
            pairs = torch.stack([fake[closest].cpu(), to_float(search[nn_idx[closest].cpu()])], dim=1)
            path = save_image_grid(pairs.flatten(0, 1), ctx.out_dir / f"memorization-{space}.png", nrow=2 * 4)
            rows.append({
                "metric": "memorization_score", "variant": space, "value": frac,
                "expected": cfg.quantile, "ratio": frac / cfg.quantile, "threshold": float(threshold),
                "median_nn_generated": float(d_gen.median()), "median_nn_holdout": float(d_ref.median()),
                "min_nn_generated": float(d_gen.min()), "n_samples": int(gen_x.shape[0]),
                "n_train_searched": int(base.shape[0]), "n_holdout": int(held.shape[0]), "figure": str(path),
            })
        return rows
