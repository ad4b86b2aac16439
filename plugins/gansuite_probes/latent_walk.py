"""The ``latent-walk`` probe: walks through random latent points (paper, section 6.1).

Each walk visits ``n_points`` random z, with ``steps`` frames per segment, by linear
interpolation or slerp. For every pair of consecutive frames it measures the distance in pixels
and in D-feature space (standardised pooled features, as the SVM probe sees them). Smooth walks
have steps of similar size; a sharp transition (max step / mean step >> 1) suggests the
generator jumps between memorised modes. Step sizes are also reported relative to the distance
between two independent samples.
"""

from __future__ import annotations

from typing import Any

import torch

from gansuite import GANModel, ProbeContext, save_image_grid
from gansuite_probes.common import balanced_labels, extract_features, generate
from gansuite_probes.config import LatentWalkConfig

__all__ = ["LatentWalkProbe", "build", "interpolate", "slerp"]


def build(config: LatentWalkConfig) -> LatentWalkProbe:
    """Factory registered for the ``latent-walk`` probe."""
    return LatentWalkProbe(config)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` at fractions ``t`` (shape ``(T,)``).

    Returns ``(T, N, D)``; falls back to linear interpolation where the vectors are parallel.
    """
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((an * bn).sum(-1).clamp(-1 + 1e-7, 1 - 1e-7))  # (N,)
    so = torch.sin(omega)
    t = t.view(-1, 1, 1)
    linear = (1 - t) * a + t * b
    wa = torch.sin((1 - t) * omega.view(1, -1, 1)) / so.view(1, -1, 1)
    wb = torch.sin(t * omega.view(1, -1, 1)) / so.view(1, -1, 1)
    spherical = wa * a + wb * b
    return torch.where((so.abs() < 1e-6).view(1, -1, 1), linear, spherical)


def interpolate(points: torch.Tensor, steps: int, mode: str) -> torch.Tensor:
    """``points`` ``(walks, P, D)`` -> frames ``(walks, (P - 1) * steps + 1, D)``."""
    t = torch.arange(steps, dtype=points.dtype, device=points.device) / steps
    segments = []
    for p in range(points.shape[1] - 1):
        a, b = points[:, p], points[:, p + 1]
        if mode == "slerp":
            seg = slerp(a, b, t)
        else:
            seg = (1 - t.view(-1, 1, 1)) * a + t.view(-1, 1, 1) * b
        segments.append(seg.transpose(0, 1))
    segments.append(points[:, -1:])
    return torch.cat(segments, dim=1)


def _steps(x: torch.Tensor) -> torch.Tensor:
    """``(walks, frames, ...)`` -> distances between consecutive frames ``(walks, frames - 1)``."""
    flat = x.flatten(2)
    return (flat[:, 1:] - flat[:, :-1]).norm(dim=-1)


class LatentWalkProbe:
    """Step sizes and sharp-transition scores of latent walks; PNG strips."""

    def __init__(self, config: LatentWalkConfig | None = None) -> None:
        self.config = config or LatentWalkConfig()

    def _features(self, model: GANModel, images: torch.Tensor, ctx: ProbeContext) -> torch.Tensor:
        return extract_features(model, images, device=ctx.device, batch_size=self.config.batch_size)

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        model = ctx.model
        gen = torch.Generator().manual_seed(ctx.seed)
        points = model.sample_z(cfg.n_walks * cfg.n_points, generator=gen).view(cfg.n_walks, cfg.n_points, -1)
        # Reference scale: distances between independent samples (pixels and features).
        ref_z = model.sample_z(2 * max(cfg.n_walks, 32), generator=gen).to(ctx.device)
        ref_x = generate(model, ref_z, cfg.batch_size)
        ref_f = self._features(model, ref_x, ctx)
        mean, scale = ref_f.mean(0), ref_f.std(0).clamp_min(1e-6)
        half = ref_x.shape[0] // 2
        ref_pixel = float((ref_x[:half] - ref_x[half:]).flatten(1).norm(dim=1).mean())
        ref_feat_all = (ref_f - mean) / scale
        ref_feature = float((ref_feat_all[:half] - ref_feat_all[half:]).norm(dim=1).mean())
        rows = []
        for mode in cfg.modes:
            z = interpolate(points, cfg.steps, mode).to(ctx.device)
            walks, frames = z.shape[:2]
            # a class-conditional model keeps one class along each walk (walk w: class w mod K)
            y = balanced_labels(model, walks, ctx.device)
            y = None if y is None else y.repeat_interleave(frames)
            x = generate(model, z.flatten(0, 1), cfg.batch_size, labels=y)
            f = (self._features(model, x, ctx) - mean) / scale
            x, f = x.view(walks, frames, *x.shape[1:]), f.view(walks, frames, -1)
            path = save_image_grid(x.flatten(0, 1), ctx.out_dir / f"latent-walk-{mode}.png", nrow=frames)
            for space, steps, ref in (("pixel", _steps(x), ref_pixel), ("feature", _steps(f), ref_feature)):
                per_walk_sharp = steps.max(dim=1).values / steps.mean(dim=1).clamp_min(1e-12)
                common = {"variant": mode, "space": space, "n_walks": walks, "frames": frames,
                          "n_points": cfg.n_points, "steps_per_segment": cfg.steps}
                rows.append({"metric": "mean_step", "value": float(steps.mean()), **common,
                             "relative_to_random_pair": float(steps.mean()) / max(ref, 1e-12),
                             "random_pair_distance": ref})
                rows.append({"metric": "sharpness", "value": float(per_walk_sharp.mean()), **common,
                             "max": float(per_walk_sharp.max()), "figure": str(path)})
        return rows
