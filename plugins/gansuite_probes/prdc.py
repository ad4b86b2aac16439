"""The ``prdc`` probe: precision, recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020).

k-nearest-neighbour balls around Inception features (the extractor of the fid probe): precision
is the fraction of generated samples inside some real ball, recall the fraction of real samples
inside some generated ball, density the mean number of real balls holding a generated sample
divided by k, coverage the fraction of real balls holding at least one generated sample. The
protocol of Naeem et al.: 10,000 real and 10,000 generated images, k = 5. The real reference
features are cached on disk like the FID statistics.

Rows for the trained generator, its controls (the early checkpoint, the Gaussian fit, a random
generator) and held-out real images (the real row is what a perfect generator scores: density
about 1, coverage about 1 - 2^-k), each with a standard error (binomial for the fractions; for
density, std of the per-sample counts / sqrt N). Then, for each metric and control, the paired
difference trained minus control (metric ``<name>_gain``, variant ``trained-<control>``) with a
percentile bootstrap interval over the units the metric averages: the generated samples for
precision and density (both sides generated from the same latents, so sample i of one is paired
with sample i of the other), the reference images for recall and coverage; the other set and the
balls' radii are held fixed. ``-o features=fixed`` measures in the seeded fixed feature space
instead of Inception's (the digits main job's).
"""

from __future__ import annotations

from typing import Any

import torch

from gansuite import ProbeContext
from gansuite_probes.config import PRDCConfig
from gansuite_probes.distances import prdc
from gansuite_probes.fid import fixed_space, reference_for
from gansuite_probes.quality import extractor_for, subjects
from gansuite_probes.resampling import paired_gain

__all__ = ["PRDCProbe", "build", "gain_rows"]

CONTROLS = ("early", "gaussian-fit", "random")  # the generated controls the trained G is compared with


class PRDCProbe:
    """Precision/recall/density/coverage against cached reference features."""

    def __init__(self, config: PRDCConfig | None = None) -> None:
        self.config = config or PRDCConfig()

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        if cfg.features == "fixed":
            real, scored, common = fixed_space(ctx, cfg, need=cfg.k, fix=f"lower -o prdc.k (now {cfg.k})")
        else:
            extractor = extractor_for(cfg, ctx.device)
            ref = reference_for(ctx, extractor, cfg, cfg.k + 1, f"PRDC with k={cfg.k} needs more than k images")
            real = ref.features()
            common = {"reference_split": cfg.reference_split, **extractor.describe(), **ref.describe()}
            scored = subjects(ctx, extractor, cfg, cfg.n_samples)
        common["k"] = cfg.k
        rows, units = [], {}
        for subject in scored:
            per_unit: dict[str, torch.Tensor] = {}
            scores = prdc(real, subject.features, cfg.k, cfg.chunk, units=per_unit)
            units[subject.variant] = per_unit
            for metric, score in scores.items():
                rows.append({"metric": metric, "variant": subject.variant, "value": score["value"],
                             "se": score["se"], "ci95": 1.96 * score["se"], **subject.info, **common})
        rows += gain_rows(units, cfg.n_boot, ctx.seed, common)
        return rows


UNITS = {"precision": "generated samples", "density": "generated samples", "recall": "reference images",
         "coverage": "reference images"}


def gain_rows(units: dict[str, dict[str, torch.Tensor]], n_boot: int, seed: int,
              common: dict[str, Any]) -> list[dict[str, Any]]:
    """Trained minus each generated control, per metric, paired over the metric's units (higher is
    better for all four, so a positive difference is the trained G's lead)."""
    trained = units.get("trained")
    rows: list[dict[str, Any]] = []
    if trained is None:
        return rows
    for control in CONTROLS:
        theirs = units.get(control)
        if theirs is None:
            continue
        for metric, ours in trained.items():
            if ours.shape != theirs[metric].shape:  # a control scored on another number of samples
                continue
            gain = paired_gain(ours, theirs[metric], n_boot=n_boot, seed=seed, unit=UNITS[metric])
            gain.pop("gain_images")
            rows.append({"metric": f"{metric}_gain", "variant": f"trained-{control}", "control": control,
                         **gain, "better": "higher (0: no better than the control)", **common})
    return rows


def build(config: PRDCConfig) -> PRDCProbe:
    """Factory registered for the ``prdc`` probe."""
    return PRDCProbe(config)
