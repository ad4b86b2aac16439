"""The ``prdc`` probe: precision, recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020).

k-nearest-neighbour balls around Inception features (the extractor of the fid probe): precision
is the fraction of generated samples inside some real ball, recall the fraction of real samples
inside some generated ball, density the mean number of real balls holding a generated sample
divided by k, coverage the fraction of real balls holding at least one generated sample. The
protocol of Naeem et al.: 10,000 real and 10,000 generated images, k = 5. The real reference
features are cached on disk like the FID statistics.

Rows for the trained generator, a random generator and held-out real images (the real row is
what a perfect generator scores: density about 1, coverage about 1 - 2^-k), each with a
standard error (binomial for the fractions; for density, std of the per-sample counts / sqrt N).
"""

from __future__ import annotations

from typing import Any

from gansuite import ProbeContext
from gansuite_probes.config import PRDCConfig
from gansuite_probes.distances import prdc
from gansuite_probes.fid import reference_for
from gansuite_probes.quality import extractor_for, subjects

__all__ = ["PRDCProbe", "build"]


class PRDCProbe:
    """Precision/recall/density/coverage against cached reference features."""

    def __init__(self, config: PRDCConfig | None = None) -> None:
        self.config = config or PRDCConfig()

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        extractor = extractor_for(cfg, ctx.device)
        ref = reference_for(ctx, extractor, cfg, cfg.k + 1, f"PRDC with k={cfg.k} needs more than k images")
        real = ref.features()
        common = {"reference_split": cfg.reference_split, "k": cfg.k, **extractor.describe(), **ref.describe()}
        rows = []
        for subject in subjects(ctx, extractor, cfg, cfg.n_samples):
            scores = prdc(real, subject.features, cfg.k, cfg.chunk)
            for metric, score in scores.items():
                rows.append({"metric": metric, "variant": subject.variant, "value": score["value"],
                             "se": score["se"], "ci95": 1.96 * score["se"], **subject.info, **common})
        return rows


def build(config: PRDCConfig) -> PRDCProbe:
    """Factory registered for the ``prdc`` probe."""
    return PRDCProbe(config)
