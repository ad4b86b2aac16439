"""The ``fid`` and ``kid`` probes: Inception distances with their controls, floor and spread.

Protocol (the one papers report): ``n_samples`` generated images (50,000 by default) against the
statistics of the whole reference split (CIFAR-10: the 50,000 training images), pool3 features
of the bundled TF Inception (see :mod:`gansuite_probes.inception`), float64 statistics. The
reference statistics are cached on disk by content (:mod:`gansuite_probes.refstats`).

Rows, for the trained generator, a random generator and held-out real images (the ``real``
row: what a perfect generator scores with these counts):

- ``fid`` with a bootstrap standard deviation over resamples of the scored features
  (the reference held fixed) and, on every row, ``floor_at_n_samples``: the real control at
  ``n_samples`` (measured when the held-out split has that many images, else read off its
  FID-infinity fit);
- ``fid_infinity`` (Chong & Forsyth 2020): FID of random subsets of N = ``fid_inf_min`` ..
  ``n_samples`` images fitted against 1/N, extrapolated to 1/N = 0, with the intercept's
  standard error;
- ``kid``: mean and standard deviation over random subsets (unbiased MMD, cubic kernel), each
  drawn without replacement; ``subset_size`` must be below ``n_samples``, and a set (the
  held-out real control, a small reference) not larger than it is subsampled by halves instead,
  so no two subsets are forced to be the whole set (the row's ``subset_size`` says what was used);
- ``kid_gain`` (variant ``trained-<control>``): KID(control) - KID(trained) with the
  unbiased MMD^2 of the whole sets and a bootstrap interval over generated samples (paired by
  latent for a generated control, apart for the held-out real images) and reference images,
  computed from kernel matrices made once (:class:`_Gains`, docs/probes.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from gansuite import OptionError, ProbeContext
from gansuite_probes.common import SAMPLE_STD_N, FixedScaler, fixed_features, output_gain, sample_std
from gansuite_probes.config import FIDConfig, KIDConfig
from gansuite_probes.distances import (
    fid_infinity,
    frechet_distance,
    kid_score,
    kid_subset_size,
    kid_subsets,
    kid_subsets_from_grams,
    moments,
    poly_kernel,
)
from gansuite_probes.inception import InceptionFeatures, bundled_weights, sha256
from gansuite_probes.quality import Subject, extractor_for, generated_batches, subjects
from gansuite_probes.refstats import Reference, reference
from gansuite_probes.resampling import bootstrap_gain, gain_labels

__all__ = ["FIDProbe", "KIDProbe", "build_fid", "build_kid", "reference_for", "fit_sizes", "FID_MIN_SAMPLES",
           "InceptionFeatures", "bundled_weights", "sha256"]

FID_MIN_SAMPLES = 2048


def fit_sizes(n: int, smallest: int, points: int) -> list[int]:
    """``points`` subset sizes evenly spaced from ``min(smallest, n // 2)`` to ``n``."""
    lo = max(2, min(smallest, n // 2))
    return sorted({round(lo + (n - lo) * i / (points - 1)) for i in range(points)})


def reference_for(ctx: ProbeContext, extractor: InceptionFeatures, cfg: Any, minimum: int, why: str) -> Reference:
    """Statistics of ``cfg.n_reference`` images (None: all) of ``cfg.reference_split``, cached on disk."""
    data = ctx.load_split(cfg.reference_split)
    n_ref = len(data) if cfg.n_reference is None else min(cfg.n_reference, len(data))
    if min(n_ref, cfg.n_samples) < minimum:
        raise OptionError(f"{why} (got {cfg.n_samples:,} generated and {n_ref:,} real images in "
                          f"'{cfg.reference_split}'); raise -o n_samples / n_reference.")
    return reference(extractor, data, cfg.reference_split, n_ref, batch_size=cfg.batch_size, cache=cfg.cache,
                     show_progress=ctx.progress)


class FIDProbe:
    """FID, FID-infinity and the finite-sample floor against cached reference statistics."""

    def __init__(self, config: FIDConfig | None = None) -> None:
        self.config = config or FIDConfig()

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        if cfg.n_samples < FID_MIN_SAMPLES:  # before loading anything
            raise OptionError(f"FID needs at least {FID_MIN_SAMPLES:,} generated images (got {cfg.n_samples:,}); "
                              "below that its 2,048x2,048 covariance is singular. Raise -o fid.n_samples, or "
                              "use the kid probe.")
        extractor = extractor_for(cfg, ctx.device)
        ref = reference_for(ctx, extractor, cfg, FID_MIN_SAMPLES,
                         f"FID needs at least {FID_MIN_SAMPLES:,} generated and {FID_MIN_SAMPLES:,} real images")
        common = {"reference_split": cfg.reference_split, "statistics_dtype": "float64",
                  **extractor.describe(), **ref.describe()}
        gen = torch.Generator().manual_seed(ctx.seed)
        rows: list[dict[str, Any]] = []
        floor: dict[str, Any] = {}
        for subject in subjects(ctx, extractor, cfg, cfg.n_samples):
            scored = self._score(subject, ref, gen)
            if subject.variant == "real":
                floor = self._floor(scored, cfg.n_samples)
            rows += [{**row, **common} for row in scored]
        return [{**row, **floor} for row in rows]

    def _score(self, subject: Subject, ref: Reference, gen: torch.Generator) -> list[dict[str, Any]]:
        cfg, feats = self.config, subject.features
        mean, cov = moments(feats)
        value = frechet_distance(ref.mean, ref.cov, mean, cov, ref.cov_sqrt)
        boot = []
        for _ in range(cfg.n_bootstrap):
            idx = torch.randint(feats.shape[0], (feats.shape[0],), generator=gen).to(feats.device)
            boot.append(frechet_distance(ref.mean, ref.cov, *moments(feats[idx]), ref.cov_sqrt))
        std = float(torch.tensor(boot).std()) if len(boot) > 1 else None
        rows = [{"metric": "fid", "variant": subject.variant, "value": value, **subject.info, "std": std,
                 "ci95": 1.96 * std if std is not None else None, "n_bootstrap": len(boot)}]
        if cfg.fid_inf_points >= 2:
            sizes = fit_sizes(feats.shape[0], cfg.fid_inf_min, cfg.fid_inf_points)
            fit = fid_infinity(feats, ref.mean, ref.cov, ref.cov_sqrt, sizes, gen)
            rows.append({"metric": "fid_infinity", "variant": subject.variant, "value": fit["fid_infinity"],
                         **subject.info, "std": fit["se"], "ci95": 1.96 * fit["se"], "slope": fit["slope"],
                         "fit_points": fit["points"]})
        return rows

    @staticmethod
    def _floor(real_rows: list[dict[str, Any]], n: int) -> dict[str, Any]:
        """What a perfect generator scores with ``n`` samples: the real control at (or fitted to) n."""
        fid_row = real_rows[0]
        if fid_row["n_samples"] == n:
            return {"floor_at_n_samples": fid_row["value"], "floor_source": f"real control measured at {n:,}"}
        fit = next((r for r in real_rows if r["metric"] == "fid_infinity"), None)
        if fit is None:
            return {"floor_at_n_samples": fid_row["value"],
                    "floor_source": f"real control measured at {fid_row['n_samples']:,} (not {n:,})"}
        return {"floor_at_n_samples": fit["value"] + fit["slope"] / n,
                "floor_source": f"real control's FID-infinity fit ({fid_row['n_samples']:,} images) at N={n:,}"}


class KIDProbe:
    """KID (unbiased polynomial-kernel MMD over random subsets) against cached reference features."""

    def __init__(self, config: KIDConfig | None = None) -> None:
        self.config = config or KIDConfig()

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        if cfg.n_samples <= cfg.subset_size:
            raise OptionError(f"KID subsets of {cfg.subset_size} images drawn from {cfg.n_samples} generated "
                              "images would be the same every time; use a subset_size below n_samples "
                              "(at most half of it for subsets that overlap by about half), e.g. "
                              f"-o kid.subset_size={max(2, cfg.n_samples // 2)}.")
        if cfg.features == "fixed":
            real, scored, common = fixed_space(ctx, cfg)
            common["subsets"] = cfg.subsets
        else:
            extractor = extractor_for(cfg, ctx.device)
            ref = reference_for(ctx, extractor, cfg, cfg.subset_size + 1,
                                f"KID subsets of {cfg.subset_size} need more images than that; lower -o kid.subset_size")
            real = ref.features()
            common = {"reference_split": cfg.reference_split, "subsets": cfg.subsets, **extractor.describe(),
                      **ref.describe()}
            scored = subjects(ctx, extractor, cfg, cfg.n_samples)
        cap = cfg.gain_max_images
        pick = (torch.arange(real.shape[0]) if real.shape[0] <= cap
                else torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(ctx.seed))[:cap])
        ref_feats = real[pick.to(real.device)]
        k_yy = poly_kernel(ref_feats, ref_feats) if real.shape[0] <= cap else None  # subsets read off the kernels
        rows, gains = [], _Gains(cfg, ctx.seed, int(ref_feats.shape[0]), common)
        for subject in scored:
            feats = subject.features
            head = feats[:cap]
            k_xx, k_xy = poly_kernel(head, head), poly_kernel(head, ref_feats)
            gen = torch.Generator().manual_seed(ctx.seed)  # the same subset draws for every subject
            if k_yy is not None and feats.shape[0] <= cap:
                values = kid_subsets_from_grams(k_xx, k_yy, k_xy, cfg.subsets, cfg.subset_size, gen)
            else:
                values = kid_subsets(feats, real, cfg.subsets, cfg.subset_size, gen)
            std = float(values.std()) if values.numel() > 1 else 0.0
            rows.append({"metric": "kid", "variant": subject.variant, "value": float(values.mean()), "std": std,
                         "subset_size": kid_subset_size(cfg.subset_size, int(feats.shape[0]), int(real.shape[0])),
                         **subject.info, **common})
            gains.add(subject.variant, kid_score(k_xx, k_xy), int(head.shape[0]))
            del k_xx, k_xy
        return rows + gains.rows


class _Gains:
    """The paired differences ``KID(control) - KID(trained)`` (higher: the trained G is closer to the
    reference), each computed as soon as both sides are scored so that at most three sets of
    kernel matrices are held (the real control comes before the trained G)."""

    def __init__(self, cfg: KIDConfig, seed: int, n_ref: int, common: dict[str, Any]) -> None:
        self.cfg, self.seed, self.n_ref, self.common = cfg, seed, n_ref, common
        self.trained: tuple[Any, int] | None = None
        self.waiting: list[tuple[str, Any, int]] = []
        self.rows: list[dict[str, Any]] = []

    def add(self, variant: str, score: Any, n: int) -> None:
        if variant == "trained":
            self.trained = (score, n)
        else:
            self.waiting.append((variant, score, n))
        if self.trained is not None:
            for control in self.waiting:
                self.rows.append(self._row(*control))
            self.waiting = []

    def _row(self, variant: str, score: Any, n: int) -> dict[str, Any]:
        assert self.trained is not None
        model, n_model = self.trained
        generated = variant != "real"  # the generators drew from the same latents, index by index
        fields = bootstrap_gain(model, score, n_model, n, n_shared=self.n_ref, paired=generated and n == n_model,
                                n_boot=self.cfg.n_boot, seed=self.seed,
                                unit="generated samples (paired by latent index)" if generated else "samples",
                                control_unit="held-out real images", shared_unit="reference images")
        floor = " (below 0: farther from the reference than held-out real images, the floor)" if not generated else ""
        return {**gain_labels(variant, "kid"), **fields, "n_samples": n_model, "n_reference": self.n_ref,
                "estimator": f"unbiased MMD^2 of all {n_model:,} samples against all {self.n_ref:,} reference images "
                             "(cubic kernel, as the kid rows; the reference-only term cancels in the difference)",
                "better": f"higher: the control's KID minus the trained G's{floor}",
                **{k: v for k, v in self.common.items() if k not in ("subsets", "n_reference")}}


def fixed_space(ctx: ProbeContext, cfg: Any, need: int | None = None,
                fix: str = "") -> tuple[torch.Tensor, Iterator[Subject], dict[str, Any]]:
    """A probe's inputs in the fixed feature space (``-o features=fixed``; KID's and PRDC's): the
    reference images' features (centred and scaled per layer on themselves, :class:`FixedScaler`),
    the subjects (held-out real images, the trained G, its controls) through the same map, and the
    rows' fields. More than ``need`` reference images are required (default: KID's subset size);
    ``fix`` says what to do when there are not."""
    data = ctx.load_split(cfg.reference_split)
    n_ref = len(data) if cfg.n_reference is None else min(cfg.n_reference, len(data))
    if need is None:
        need, fix = cfg.subset_size, f"KID subsets of {cfg.subset_size} need more; lower -o kid.subset_size"
    if n_ref <= need:
        raise OptionError(f"The probe needs more than {need:,} real images and '{cfg.reference_split}' has "
                          f"{n_ref:,}; {fix}.")
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n_ref]
    real, fingerprint = fixed_features(data.images[pick], device=ctx.device, batch_size=cfg.batch_size)
    scaler = FixedScaler(real)
    scaler.apply_(real)
    common = {"reference_split": cfg.reference_split, "n_reference": n_ref,
              "feature_space": fingerprint}

    def embed(images: torch.Tensor) -> torch.Tensor:
        return scaler.apply_(fixed_features(images, device=ctx.device, batch_size=cfg.batch_size)[0])

    def generated(model: Any) -> torch.Tensor:
        return torch.cat(list(generated_batches(model, cfg.n_samples, ctx.seed, cfg.batch_size, ctx.device)))

    def scored() -> Iterator[Subject]:
        if cfg.real_control:
            held = ctx.load_split(cfg.holdout_split).images
            yield Subject("real", embed(held), {"n_samples": len(held), "holdout_split": cfg.holdout_split,
                                                "sample_std": round(sample_std(held[:SAMPLE_STD_N]), 5)})
        models: list[tuple[str, Any]] = [("trained", ctx.model)]
        if cfg.random_control:
            models.append(("random", ctx.make_random_model(ctx.seed)))
        if cfg.intermediate_controls:
            models += [("early", getattr(ctx, "make_early_model", lambda: None)()),
                       ("gaussian-fit", getattr(ctx, "make_data_fit_model", lambda seed: None)(ctx.seed))]
        for variant, model in models:
            if model is None:
                continue
            images = generated(model)
            info: dict[str, Any] = {"n_samples": len(images), "sample_std": round(sample_std(images[:SAMPLE_STD_N]), 5)}
            if variant == "early":
                info["control_step"] = getattr(model, "checkpoint_step", None)
            if variant == "random":
                info.update(output_gain(model))
            yield Subject(variant, embed(images), info)

    return real, scored(), common


def build_fid(config: FIDConfig) -> FIDProbe:
    """Factory registered for the ``fid`` probe."""
    return FIDProbe(config)


def build_kid(config: KIDConfig) -> KIDProbe:
    """Factory registered for the ``kid`` probe."""
    return KIDProbe(config)
