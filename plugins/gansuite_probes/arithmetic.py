"""The ``arithmetic`` probe: vector arithmetic in z with exemplar averaging (paper, section 6.3).

Concepts are picked automatically. An L2-SVM on D features of real labelled training images
labels a pool of generated samples; for a pair of classes (A, B) the offset is the mean z of
``exemplars`` confident samples of A minus that of B. Added to other samples of class B, does
the result become A? The success rate is reported next to a baseline that adds a random offset
of the same norm. Grids show, per row: A's exemplars, B's exemplars, the target, the result,
the same arithmetic in pixel space, and neighbours of the result with +-``noise`` uniform noise.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from gansuite import GANModel, ProbeContext, save_image_grid
from gansuite_probes.common import balanced_labels, extract_features, generate
from gansuite_probes.config import ArithmeticConfig
from gansuite_probes.l2svm import Standardizer, SVMFit, accuracy, fit_l2svm
from gansuite_probes.svm import labelled, subset

__all__ = ["ArithmeticProbe", "build", "Classifier"]


def build(config: ArithmeticConfig) -> ArithmeticProbe:
    """Factory registered for the ``arithmetic`` probe."""
    return ArithmeticProbe(config)


class Classifier:
    """D features -> standardise -> linear SVM: labels images (uint8 or float in [-1, 1])."""

    def __init__(self, model: GANModel, scaler: Standardizer, fit: SVMFit, device: Any, batch_size: int) -> None:
        self.model, self.scaler, self.fit = model, scaler, fit
        self.device, self.batch_size = device, batch_size

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        X = extract_features(self.model, images, device=self.device, batch_size=self.batch_size)
        return self.fit.scores(self.scaler.apply_(X))

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self.scores(images).argmax(1)


class ArithmeticProbe:
    """Success rate of ``mean(z_A) - mean(z_B) + z`` against a random offset of the same norm."""

    def __init__(self, config: ArithmeticConfig | None = None) -> None:
        self.config = config or ArithmeticConfig()

    def _classifier(self, ctx: ProbeContext, gen: torch.Generator) -> tuple[Classifier, float, int]:
        cfg = self.config
        train, test = ctx.load_split(ctx.eval.train_split), ctx.load_split(ctx.eval.test_split)
        idx = subset(len(train), cfg.n_classifier, gen)
        y = labelled(train, ctx.eval.train_split)[idx]
        X = extract_features(ctx.model, train.images[idx], device=ctx.device, batch_size=cfg.batch_size)
        scaler = Standardizer(X)
        num_classes = max(len(train.classes), int(y.max()) + 1)
        fit = fit_l2svm(scaler.apply_(X), y.to(X.device), num_classes, cfg.classifier_c)
        clf = Classifier(ctx.model, scaler, fit, ctx.device, cfg.batch_size)
        t_idx = subset(len(test), 2000, gen)
        acc = accuracy(clf.predict(test.images[t_idx]), labelled(test, ctx.eval.test_split)[t_idx])
        return clf, acc, num_classes

    def _pairs(self, labels: torch.Tensor, num_classes: int, gen: torch.Generator) -> list[tuple[int, int]]:
        need = self.config.exemplars + 1
        counts = torch.bincount(labels, minlength=num_classes)
        found = [k for k in range(num_classes) if int(counts[k]) >= need]
        pairs = list(itertools.permutations(found, 2))
        order = torch.randperm(len(pairs), generator=gen).tolist()
        return [pairs[i] for i in order[: self.config.max_pairs]]

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        model = ctx.model
        gen = torch.Generator().manual_seed(ctx.seed)
        clf, clf_acc, num_classes = self._classifier(ctx, gen)
        z = model.sample_z(cfg.n_pool, generator=gen).to(ctx.device)
        # a class-conditional model: sample i keeps its label y_pool[i] through the arithmetic
        y_pool = balanced_labels(model, cfg.n_pool, ctx.device)
        x = generate(model, z, cfg.batch_size, labels=y_pool)
        scores = clf.scores(x)
        top2 = scores.topk(2, dim=1).values
        labels, margin = scores.argmax(1).cpu(), (top2[:, 0] - top2[:, 1]).cpu()
        labels[margin < cfg.min_confidence] = -1
        pairs = self._pairs(labels[labels >= 0], num_classes, gen)
        hits = base_hits = trials = 0
        grids: list[torch.Tensor] = []
        for a, b in pairs:
            in_a = torch.nonzero(labels == a).flatten()
            in_b = torch.nonzero(labels == b).flatten()
            ex_a = in_a[margin[in_a].argsort(descending=True)[: cfg.exemplars]]
            ex_b = in_b[margin[in_b].argsort(descending=True)[: cfg.exemplars]]
            targets = in_b[~torch.isin(in_b, ex_b)][: cfg.targets_per_pair]
            if targets.numel() == 0:
                continue
            offset = z[ex_a].mean(0) - z[ex_b].mean(0)
            z_t = z[targets]
            y_t = None if y_pool is None else y_pool[targets.to(y_pool.device)]
            moved = clf.predict(generate(model, z_t + offset, cfg.batch_size, labels=y_t)).cpu()
            direction = torch.randn(targets.numel(), z.shape[1], generator=gen).to(z.device)
            direction = direction / direction.norm(dim=1, keepdim=True) * offset.norm()
            random_moved = clf.predict(generate(model, z_t + direction, cfg.batch_size, labels=y_t)).cpu()
            hits += int((moved == a).sum())
            base_hits += int((random_moved == a).sum())
            trials += int(targets.numel())
            if len(grids) < cfg.grid_pairs:
                grids.append(self._grid_row(model, z, x, ex_a, ex_b, int(targets[0]), offset, gen, y_pool))
        figure = None
        if grids:
            per_row = grids[0].shape[0]
            figure = str(save_image_grid(torch.cat(grids), ctx.out_dir / "arithmetic.png", nrow=per_row))
        nan = float("nan")
        common = {"n_pairs": len(pairs), "n_trials": trials, "n_pool": cfg.n_pool, "exemplars": cfg.exemplars,
                  "classes_found": int(torch.unique(labels[labels >= 0]).numel()), "classifier_accuracy": clf_acc}
        return [
            {"metric": "success_rate", "variant": "arithmetic", "value": hits / trials if trials else nan,
             **common, "figure": figure},
            {"metric": "success_rate", "variant": "random-offset", "value": base_hits / trials if trials else nan,
             **common},
            {"metric": "classifier_accuracy", "variant": "real-test", "value": clf_acc, "n_classes": num_classes},
        ]

    def _grid_row(self, model: GANModel, z: torch.Tensor, x: torch.Tensor, ex_a: torch.Tensor,
                  ex_b: torch.Tensor, target: int, offset: torch.Tensor, gen: torch.Generator,
                  y_pool: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.config
        result_z = z[target] + offset
        noise = (torch.rand(cfg.n_neighbours, z.shape[1], generator=gen) * 2 - 1) * cfg.noise
        y = None if y_pool is None else y_pool[target : target + 1]
        neighbours = generate(model, result_z.unsqueeze(0) + noise.to(z.device), cfg.batch_size,
                              labels=None if y is None else y.expand(cfg.n_neighbours))
        result = generate(model, result_z.unsqueeze(0), cfg.batch_size, labels=y)
        pixel = (x[ex_a].mean(0) - x[ex_b].mean(0) + x[target]).clamp(-1, 1).unsqueeze(0)
        return torch.cat([x[ex_a], x[ex_b], x[target : target + 1], result, pixel, neighbours]).cpu()
