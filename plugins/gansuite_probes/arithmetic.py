"""The ``arithmetic`` probe: vector arithmetic in z with exemplar averaging (paper, section 6.3).

Concepts are picked automatically. An L2-SVM on fixed features (:class:`FixedFeatures`, the same
network for every run) of real labelled training images labels a pool of generated samples; for
a pair of classes (A, B) the offset is the mean z of ``exemplars`` confident samples of A minus
that of B. Added to other samples of class B, does the result become A? Every run makes
``max_pairs * targets_per_pair`` trials over the same class pairs: a pair whose classes the
generator does not draw counts its trials as failures, so the rate is always defined (0 for a
generator that draws one class only). Next to each success rate: the same trials with a random
offset of the same norm, and ``lift`` = success - random-offset success (0 when z has no linear
class structure; higher is better). Controls: a randomly initialised generator (``random``) and
a generator that returns training images (``copying``: its z has no structure, lift about 0).
CIs: percentile bootstrap over pairs. For each control a ``lift_gain`` row (variant
``trained-<control>``) gives the trained G's lift minus the control's, paired pair by pair (the
same class pairs, pool z and random directions for every generator), its interval resampling
pairs, and ``gain_trials``: the difference counted in trials (lift difference x trials). Grids show, per row: A's exemplars, B's exemplars, the
target, the result, the same arithmetic in pixel space, and neighbours of the result with
+-``noise`` uniform noise.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from gansuite import OptionError, ProbeContext, save_image_grid
from gansuite_probes.common import (
    FixedScaler,
    GeneratorVariant,
    balanced_labels,
    bootstrap_ci,
    ci_fields,
    fixed_features,
    generate,
    generator_variants,
    with_sample_std,
)
from gansuite_probes.config import ArithmeticConfig
from gansuite_probes.l2svm import SVMFit, accuracy, fit_l2svm
from gansuite_probes.resampling import bootstrap_gain, gain_labels
from gansuite_probes.svm import labelled, subset

__all__ = ["ArithmeticProbe", "build", "Classifier"]


def build(config: ArithmeticConfig) -> ArithmeticProbe:
    """Factory registered for the ``arithmetic`` probe."""
    return ArithmeticProbe(config)


class Classifier:
    """Fixed features -> standardise -> linear SVM: labels images (uint8 or float in [-1, 1])."""

    def __init__(self, scaler: FixedScaler, fit: SVMFit, device: Any, batch_size: int) -> None:
        self.scaler, self.fit = scaler, fit
        self.device, self.batch_size = device, batch_size

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        X, _ = fixed_features(images, device=self.device, batch_size=self.batch_size)
        return self.fit.scores(self.scaler.apply_(X))

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self.scores(images).argmax(1)


class ArithmeticProbe:
    """Success rate of ``mean(z_A) - mean(z_B) + z`` against a random offset of the same norm."""

    def __init__(self, config: ArithmeticConfig | None = None) -> None:
        self.config = config or ArithmeticConfig()

    def _classifier(self, ctx: ProbeContext, gen: torch.Generator) -> tuple[Classifier, dict[str, Any], int]:
        cfg = self.config
        train, test = ctx.load_split(ctx.eval.train_split), ctx.load_split(ctx.eval.test_split)
        idx = subset(len(train), cfg.n_classifier, gen)
        y = labelled(train, ctx.eval.train_split)[idx]
        X, fingerprint = fixed_features(train.images[idx], device=ctx.device, batch_size=cfg.batch_size)
        scaler = FixedScaler(X)
        num_classes = max(len(train.classes), int(y.max()) + 1)
        fit = fit_l2svm(scaler.apply_(X), y.to(X.device), num_classes, cfg.classifier_c)
        clf = Classifier(scaler, fit, ctx.device, cfg.batch_size)
        t_idx = subset(len(test), 2000, gen)
        acc = accuracy(clf.predict(test.images[t_idx]), labelled(test, ctx.eval.test_split)[t_idx])
        half = 1.96 * (acc * (1 - acc) / max(len(t_idx), 1)) ** 0.5
        row = {"metric": "classifier_accuracy", "variant": "real", "value": acc, "ci95": half,
               "n_classes": num_classes, "n_train": len(idx), "n_test": len(t_idx), "feature_space": fingerprint,
               "converged": fit.converged}
        return clf, row, num_classes

    def _pairs(self, num_classes: int, gen: torch.Generator) -> list[tuple[int, int]]:
        cfg = self.config
        pairs = list(itertools.permutations(range(num_classes), 2))
        order = torch.randperm(len(pairs), generator=gen).tolist()
        chosen = [pairs[i] for i in order[: cfg.max_pairs]]
        if len(chosen) * cfg.targets_per_pair < cfg.min_trials:
            raise OptionError(f"{num_classes} classes give {len(chosen)} pairs x {cfg.targets_per_pair} targets, "
                              f"fewer than min_trials={cfg.min_trials}; raise -o arithmetic.targets_per_pair.")
        return chosen

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        gen = torch.Generator().manual_seed(ctx.seed)
        clf, clf_row, num_classes = self._classifier(ctx, gen)
        pairs = self._pairs(num_classes, gen)
        bank = None
        if cfg.copying_control:
            train = ctx.load_split(ctx.eval.train_split)
            bank = train.images[subset(len(train), cfg.copy_bank, gen)]
        rows = []
        variants = generator_variants(ctx, bank, cfg.random_control)
        lifts: dict[str, torch.Tensor] = {}  # per pair, the same pairs for every generator
        for variant in variants:
            hits, base, info = self._trials(variant, clf, pairs, ctx)
            rows += self._rows(variant.name, hits, base, info, ctx.seed)
            lifts[variant.name] = (hits - base) / cfg.targets_per_pair
        return [*with_sample_std(rows, variants, ctx), *self._gains(lifts, ctx.seed), clf_row]

    def _gains(self, lifts: dict[str, torch.Tensor], seed: int) -> list[dict[str, Any]]:
        """The trained G's lift minus each control's, paired pair by pair."""
        cfg, rows = self.config, []
        trained = lifts["trained"]
        n = int(trained.numel())

        def score(lift: torch.Tensor) -> Any:
            return lambda idx, _: lift[idx].mean(1)

        for control, lift in lifts.items():
            if control == "trained":
                continue
            gain = bootstrap_gain(score(trained), score(lift), n, n, n_boot=cfg.n_boot, seed=seed,
                                  unit="class pairs (the same pairs, z and directions for both sides)")
            rows.append({**gain_labels(control, "lift"), **gain, "n_pairs": n, "n_trials": n * cfg.targets_per_pair,
                         "gain_trials": gain["value"] * n * cfg.targets_per_pair,
                         "better": "higher: the trained G's lift minus the control's"})
        return rows

    def _trials(self, variant: GeneratorVariant, clf: Classifier, pairs: list[tuple[int, int]],
                ctx: ProbeContext) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Per pair: successes of the arithmetic and of the random offset (out of targets_per_pair)."""
        cfg = self.config
        gen = torch.Generator().manual_seed(ctx.seed + 1)  # the same z and directions for every variant
        z = variant.sample_z(cfg.n_pool, generator=gen).to(ctx.device)
        # a class-conditional model: sample i keeps its label y_pool[i] through the arithmetic
        y_pool = balanced_labels(variant, cfg.n_pool, ctx.device)
        x = generate(variant, z, cfg.batch_size, labels=y_pool)
        scores = clf.scores(x)
        top2 = scores.topk(2, dim=1).values
        labels, margin = scores.argmax(1).cpu(), (top2[:, 0] - top2[:, 1]).cpu()
        labels[margin < cfg.min_confidence] = -1
        hits = torch.zeros(len(pairs), dtype=torch.float64)
        base = torch.zeros_like(hits)
        missing, grid_gen = 0, torch.Generator().manual_seed(ctx.seed + 2)
        grids: list[torch.Tensor] = []
        for p, (a, b) in enumerate(pairs):
            in_a = torch.nonzero(labels == a).flatten()
            in_b = torch.nonzero(labels == b).flatten()
            if in_a.numel() < cfg.exemplars or in_b.numel() <= cfg.exemplars:
                missing += 1
                continue
            ex_a = in_a[margin[in_a].argsort(descending=True)[: cfg.exemplars]]
            ex_b = in_b[margin[in_b].argsort(descending=True)[: cfg.exemplars]]
            targets = in_b[~torch.isin(in_b, ex_b)][: cfg.targets_per_pair]
            offset = z[ex_a].mean(0) - z[ex_b].mean(0)
            z_t = z[targets]
            y_t = None if y_pool is None else y_pool[targets.to(y_pool.device)]
            moved = clf.predict(generate(variant, z_t + offset, cfg.batch_size, labels=y_t)).cpu()
            direction = torch.randn(targets.numel(), z.shape[1], generator=gen).to(z.device)
            direction = direction / direction.norm(dim=1, keepdim=True) * offset.norm()
            random_moved = clf.predict(generate(variant, z_t + direction, cfg.batch_size, labels=y_t)).cpu()
            hits[p], base[p] = float((moved == a).sum()), float((random_moved == a).sum())
            if variant.name == "trained" and len(grids) < cfg.grid_pairs:
                grids.append(self._grid_row(variant, z, x, ex_a, ex_b, int(targets[0]), offset, grid_gen, y_pool))
        figure = None
        if grids:
            path = ctx.out_dir / "arithmetic.png"
            figure = str(save_image_grid(torch.cat(grids), path, nrow=grids[0].shape[0]))
        info = {"pairs_missing": missing, "classes_found": int(torch.unique(labels[labels >= 0]).numel()),
                "figure": figure}
        return hits, base, info

    def _rows(self, variant: str, hits: torch.Tensor, base: torch.Tensor, info: dict[str, Any],
              seed: int) -> list[dict[str, Any]]:
        cfg = self.config
        per = float(cfg.targets_per_pair)
        rate, lo, hi = bootstrap_ci(lambda i: hits[i].mean() / per, (hits.numel(),), n_boot=cfg.n_boot, seed=seed)
        lift, llo, lhi = bootstrap_ci(lambda i: (hits[i] - base[i]).mean() / per, (hits.numel(),),
                                      n_boot=cfg.n_boot, seed=seed)
        common = {"variant": variant, "n_pairs": int(hits.numel()), "n_trials": int(hits.numel()) * cfg.targets_per_pair,
                  "n_pool": cfg.n_pool, "exemplars": cfg.exemplars, "pairs_missing": info["pairs_missing"],
                  "classes_found": info["classes_found"]}
        figure = {"figure": info["figure"]} if info["figure"] else {}
        return [
            {"metric": "success_rate", "value": rate, **ci_fields(rate, lo, hi), **common,
             "random_offset_rate": float(base.mean()) / per, "better": "higher", **figure},
            {"metric": "lift", "value": lift, **ci_fields(lift, llo, lhi), **common,
             "better": "higher (0: no linear structure)"},
        ]

    def _grid_row(self, model: GeneratorVariant, z: torch.Tensor, x: torch.Tensor, ex_a: torch.Tensor,
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
