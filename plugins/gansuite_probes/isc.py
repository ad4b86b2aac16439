"""The ``is`` probe: Inception Score (Salimans et al. 2016) through the fid probe's extractor.

IS = exp(E_x KL(p(y|x) || p(y))) over ``splits`` equal parts of ``n_samples`` images (the usual
protocol: 50,000 images, 10 splits, mean +- std over the splits). p(y|x) is the softmax of the
bias-free 1008-way logits ``pool3 @ fc.weight.T`` of the TF Inception 2015-12-05 graph, as in the
original code and torch-fidelity. The bundled network ends at pool3, so the classifier weights
come from a published PyTorch port in the torch hub cache or ``-o logits_weights=PATH``; without
one the probe stops with one line saying so (see :func:`gansuite_probes.inception.load_logits_head`).

Rows for the trained generator, a random generator and held-out real images (what real data
scores with these counts).
"""

from __future__ import annotations

from typing import Any

from gansuite import OptionError, ProbeContext
from gansuite_probes.config import ISConfig
from gansuite_probes.distances import inception_score
from gansuite_probes.inception import load_logits_head
from gansuite_probes.quality import extractor_for, subjects

__all__ = ["ISProbe", "build"]


class ISProbe:
    """Inception Score of the trained generator, a random one and held-out real images."""

    def __init__(self, config: ISConfig | None = None) -> None:
        self.config = config or ISConfig()

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        if cfg.n_samples < cfg.splits:
            raise OptionError(f"The Inception Score over {cfg.splits} splits needs at least that many images "
                              f"(got {cfg.n_samples}); raise -o n_samples or lower -o splits.")
        extractor = extractor_for(cfg, ctx.device)
        head = load_logits_head(cfg.logits_weights, extractor.num_features).to(extractor.device)
        common = {**extractor.describe(), **head.describe(), "splits": cfg.splits}
        rows = []
        for subject in subjects(ctx, extractor, cfg, cfg.n_samples):
            splits = min(cfg.splits, int(subject.features.shape[0]))
            mean, std, scores = inception_score(head(subject.features), splits)
            rows.append({"metric": "is", "variant": subject.variant, "value": mean, "std": std,
                         "split_scores": [round(s, 4) for s in scores], **subject.info, **common,
                         "splits": splits})
        return rows


def build(config: ISConfig) -> ISProbe:
    """Factory registered for the ``is`` probe."""
    return ISProbe(config)
