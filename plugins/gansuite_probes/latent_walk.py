"""The ``latent-walk`` probe: how much the image changes along walks in z (paper, section 6.1).

Each walk visits ``n_points`` random z points with ``steps`` frames per segment (linear
interpolation or slerp). The score is a perceptual path length (Karras et al. 2019, StyleGAN,
section 4.2) measured with finite steps ``eps = 1 / steps`` in a fixed feature space
(:class:`gansuite_probes.common.FixedFeatures`, standardised on real training images; the same
for every run) and in pixels, and normalised by the real data:

    path_length = mean over steps of (d(G(z_t), G(z_t+eps)) / eps)^2  /  mean d(x, x')^2

where ``x, x'`` are two random real training images. A generator whose samples differ as much as
real images do and whose walks go straight from one to the next scores 1. Much less than 1: the
walk barely changes the image (a collapsed or untrained generator; a random DCGAN generator draws
almost the same grey image for every z, about 1e-4). Much more than 1: the walk jumps (a
generator that copies training images jumps from one to the next, about ``steps`` or more).
Closer to 1 is better; ``log_gap = |ln path_length|`` ranks. Each row carries ``diversity``
(mean squared distance between the walk's consecutive points relative to real pairs) and
``detour = path_length / diversity`` (1 for a straight walk, large when the walk jumps).

Controls, each on the same z: a randomly initialised generator (``random``), the run's early
checkpoint and a Gaussian fit of the training pixels (``early``, ``gaussian-fit``, when the host
provides them) and a generator that returns training images (``copying``). CIs: percentile
bootstrap over walks and real pairs. For each control a ``path_length_gain`` row (variant
``trained-<control>``) gives the paired difference ``|ln path_length(control)| - |ln
path_length(trained)|`` (higher: the trained G is closer to 1), its interval resampling the walks
(the same walks, on the same z, for both sides) and the real pairs (once for both).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from gansuite import ProbeContext, save_image_grid
from gansuite_probes.common import (
    FixedScaler,
    GeneratorVariant,
    balanced_labels,
    bootstrap_ci,
    ci_fields,
    fixed_features,
    generate,
    generator_variants,
    to_float,
    with_sample_std,
)
from gansuite_probes.config import LatentWalkConfig
from gansuite_probes.resampling import bootstrap_gain, gain_labels

__all__ = ["LatentWalkProbe", "build", "interpolate", "slerp", "path_length", "walk_gain"]


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


def _sq_steps(x: torch.Tensor) -> torch.Tensor:
    """``(walks, frames, ...)`` -> squared distances between consecutive frames ``(walks, frames - 1)``."""
    flat = x.flatten(2).double()
    return (flat[:, 1:] - flat[:, :-1]).square().sum(-1)


def path_length(walk: torch.Tensor, real_a: torch.Tensor, real_b: torch.Tensor, steps: int,
                n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The normalised path length of walks ``(walks, frames, ...)`` (``steps`` frames per segment)
    against real pairs ``real_a[i], real_b[i]``, with its bootstrap CI and decomposition."""
    sq = _sq_steps(walk) * steps**2  # (walks, frames - 1): (d / eps)^2
    chord = _sq_steps(walk[:, ::steps])  # squared distances between the walk's consecutive points
    real = (real_a.flatten(1).double() - real_b.flatten(1).double()).square().sum(-1)

    def stat(w: torch.Tensor, p: torch.Tensor) -> float:
        return float(sq[w].mean() / real[p].mean().clamp_min(1e-30))

    value, lo, hi = bootstrap_ci(stat, (sq.shape[0], real.shape[0]), n_boot=n_boot, seed=seed)
    diversity = float(chord.mean() / real.mean().clamp_min(1e-30))
    return {"value": value, **ci_fields(value, lo, hi),
            "log_gap": abs(math.log(max(value, 1e-12))),
            "diversity": diversity, "detour": value / max(diversity, 1e-12),
            "real_pair_sq_distance": float(real.mean())}


def _log_gap_score(per_walk: torch.Tensor, real: torch.Tensor) -> Any:
    """``-|ln path_length|`` of resampled walks (``per_walk``: each walk's mean ``(d / eps)^2``) and
    resampled real pairs (``real``: their squared distances)."""

    def score(idx: torch.Tensor, pairs: torch.Tensor | None) -> torch.Tensor:
        ref = real.mean().expand(idx.shape[0]) if pairs is None else real[pairs].mean(1)
        return -(per_walk[idx].mean(1) / ref.clamp_min(1e-30)).clamp_min(1e-12).log().abs()

    return score


def walk_gain(trained: torch.Tensor, control: torch.Tensor, real: torch.Tensor, n_boot: int,
              seed: int) -> dict[str, Any]:
    """The paired difference ``|ln PL(control)| - |ln PL(trained)|`` of two generators walked on the
    same z (``trained``, ``control``: per-walk mean ``(d / eps)^2``, walk by walk; ``real``: the
    real pairs' squared distances), resampling walks and real pairs."""
    return bootstrap_gain(_log_gap_score(trained, real), _log_gap_score(control, real), int(trained.numel()),
                          int(control.numel()), n_shared=int(real.numel()), n_boot=n_boot, seed=seed,
                          unit="walks (the same z for both sides)", shared_unit="real pairs")


class LatentWalkProbe:
    """Normalised path length of latent walks of the trained, a random and a copying generator."""

    def __init__(self, config: LatentWalkConfig | None = None) -> None:
        self.config = config or LatentWalkConfig()

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        train = ctx.load_split(ctx.eval.train_split)
        gen = torch.Generator().manual_seed(ctx.seed)
        n_ref = min(cfg.n_reference, len(train) // 2)
        real = train.images[torch.randperm(len(train), generator=gen)[: 2 * n_ref]]
        bank = None
        if cfg.copying_control:
            bank = train.images[torch.randperm(len(train), generator=gen)[: cfg.copy_bank]]
        points = ctx.model.sample_z(cfg.n_walks * cfg.n_points, generator=gen)
        points = points.view(cfg.n_walks, cfg.n_points, -1)
        real_f, fingerprint = fixed_features(real, device=ctx.device, batch_size=cfg.batch_size)
        scaler = FixedScaler(real_f)
        scaler.apply_(real_f)
        real_px = to_float(real, ctx.device)
        rows: list[dict[str, Any]] = []
        per_walk: dict[tuple[str, str, str], torch.Tensor] = {}  # (variant, mode, space) -> (walks,)
        reals = {space: (ref[:n_ref].flatten(1).double() - ref[n_ref:].flatten(1).double()).square().sum(-1)
                 for space, ref in (("fixed", real_f), ("pixel", real_px))}
        variants = generator_variants(ctx, bank, cfg.random_control)
        for variant in variants:
            for mode in cfg.modes:
                z = interpolate(points, cfg.steps, mode).to(ctx.device)
                walks, frames = z.shape[:2]
                # a class-conditional model keeps one class along each walk (walk w: class w mod K)
                y = balanced_labels(variant, walks, ctx.device)
                y = None if y is None else y.repeat_interleave(frames)
                x = generate(variant, z.flatten(0, 1), cfg.batch_size, labels=y)
                f = scaler.apply_(fixed_features(x, device=ctx.device, batch_size=cfg.batch_size)[0])
                x, f = x.view(walks, frames, *x.shape[1:]), f.view(walks, frames, -1)
                figure = self._strip(variant, x, mode, ctx)
                spaces = (("fixed", f, real_f), ("pixel", x, real_px))
                for space, walk, ref in spaces:
                    stats = path_length(walk, ref[:n_ref], ref[n_ref:], cfg.steps, cfg.n_boot, ctx.seed)
                    per_walk[variant.name, mode, space] = (_sq_steps(walk) * cfg.steps**2).mean(1).cpu()
                    rows.append({
                        "metric": "path_length", "variant": variant.name, "space": space, "mode": mode,
                        **stats, "n_walks": walks, "n_points": cfg.n_points, "steps_per_segment": cfg.steps,
                        "n_real_pairs": n_ref, "better": "closer to 1",
                        "feature_space": fingerprint if space == "fixed" else "pixels in [-1, 1]",
                        "figure": figure,
                    })
        return [*with_sample_std(rows, variants, ctx), *self._gains(per_walk, reals, variants, ctx.seed)]

    def _gains(self, per_walk: dict[tuple[str, str, str], torch.Tensor], reals: dict[str, torch.Tensor],
               variants: list[GeneratorVariant], seed: int) -> list[dict[str, Any]]:
        """The trained G against each control, per mode and space (:func:`walk_gain`)."""
        cfg, rows = self.config, []
        for mode in cfg.modes:
            for space, real in reals.items():
                trained = per_walk["trained", mode, space]
                for control in (v.name for v in variants if v.name != "trained"):
                    gain = walk_gain(trained, per_walk[control, mode, space], real.cpu(), cfg.n_boot, seed)
                    rows.append({**gain_labels(control, "path_length"), **gain, "space": space, "mode": mode,
                                 "n_walks": int(trained.numel()), "n_real_pairs": int(real.numel()),
                                 "better": "higher: |ln path_length| of the control minus the trained G's "
                                           "(closer to 1 is better)"})
        return rows

    def _strip(self, variant: GeneratorVariant, x: torch.Tensor, mode: str, ctx: ProbeContext) -> str:
        shown = x[: self.config.n_strips]
        path = ctx.out_dir / f"latent-walk-{variant.name}-{mode}.png"
        return str(save_image_grid(shown.flatten(0, 1), path, nrow=x.shape[1]))
