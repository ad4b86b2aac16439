"""The ``cas-score`` probe: Classification Accuracy Score (Ravuri & Vinyals 2019, arXiv:1905.10887).

Train a classifier on class-conditional samples ``G(z, y)`` (class-balanced ``y``), test it on
real test images: the score is its test accuracy. A generator whose samples carry each class's
real features scores near a classifier trained on as many real images (the ``real`` row, the
ceiling); one whose samples carry no class information scores about 1/K (the ``random`` row: a
randomly initialised G of the same architecture). Every classifier is scored on the same real
test images, so the differences ``trained - random`` and ``trained - real`` are paired over them:
their intervals resample the test images (:func:`gansuite_probes.resampling.paired_gain`).
"""

from __future__ import annotations

from typing import Any

import torch

from gansuite import GANModel, ProbeContext
from gansuite_probes.common import Timer, generate
from gansuite_probes.config import CASScoreConfig
from gansuite_probes.gan_test import (
    binomial_ci95,
    check_conditional,
    labelled_splits,
    real_classifier,
    sample_classes,
)
from gansuite_probes.resampling import paired_gain
from gansuite_probes.svm import subset

__all__ = ["CASScoreProbe", "build"]


def build(config: CASScoreConfig) -> CASScoreProbe:
    """Factory registered for the ``cas-score`` probe."""
    return CASScoreProbe(config)


class CASScoreProbe:
    """Accuracy on real test images of classifiers trained on generated (and real) images."""

    def __init__(self, config: CASScoreConfig | None = None) -> None:
        self.config = config or CASScoreConfig()

    def check_model(self, model: GANModel) -> None:
        check_conditional(model, "cas-score")

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        self.check_model(ctx.model)
        train, test, y_train, y_test, k = labelled_splits(ctx)
        t_idx = subset(len(test), cfg.max_test, torch.Generator().manual_seed(ctx.seed)).sort().values
        x_test, y_test = test.images[t_idx], y_test[t_idx]
        n_test = int(t_idx.numel())
        sources: list[tuple[str, Any]] = [("trained", lambda: self._generated(ctx.model, ctx))]
        if cfg.random_control:
            sources.append(("random", lambda: self._generated(ctx.make_random_model(ctx.seed), ctx)))
        if cfg.real_control:
            idx = subset(len(train), cfg.n_train, torch.Generator().manual_seed(cfg.classifier_seed))
            sources.append(("real", lambda: (train.images[idx], y_train[idx])))
        rows, hits = [], {}
        for variant, make in sources:
            images, labels = make()
            with Timer(ctx.device) as timer:
                clf = real_classifier(images, labels, k, cfg, ctx.device)
                hit = (clf.predict(x_test) == y_test).double()
            acc = float(hit.mean())
            hits[variant] = hit
            rows.append({"metric": "cas", "variant": variant, "value": acc, "ci95": binomial_ci95(acc, n_test),
                         "ci_method": f"binomial (normal approximation) over {n_test:,} real test images",
                         "n_train": int(images.shape[0]), "n_test": n_test, "chance": 1.0 / k, "n_classes": k,
                         **clf.info, "time_classifier_s": round(timer.seconds, 2), "better": "higher"})
        for other, better in (("random", "higher (0: G's samples teach no more than a random G's)"),
                              ("real", "closer to 0 (0: G's samples teach as much as real images)")):
            if other in hits:
                gain = paired_gain(hits["trained"], hits[other], n_boot=cfg.n_boot, seed=ctx.seed,
                                   unit="real test images")
                rows.append({"metric": f"cas_minus_{other}", "variant": f"trained-{other}", **gain,
                             "better": better})
        return rows

    def _generated(self, model: GANModel, ctx: ProbeContext) -> tuple[torch.Tensor, torch.Tensor]:
        """``n_train`` samples G(z, y) with class-balanced y (z drawn under the run's seed)."""
        cfg = self.config
        z = model.sample_z(cfg.n_train, generator=torch.Generator().manual_seed(ctx.seed)).to(ctx.device)
        y = sample_classes(ctx.model, z, cfg.n_train, ctx.device)
        x = generate(model, z, cfg.batch_size, labels=y if model.num_classes else None)
        return x.cpu(), y.cpu()
