"""The ``svm`` probe: an L2-SVM on frozen discriminator features, next to a random-D control.

Features: every conv layer of D (``model.features``), each max-pooled to a 4x4 grid,
concatenated, standardised with the training split's statistics. Two protocols (see
:class:`gansuite_probes.config.SVMConfig`): ``full`` (CIFAR-10: choose C on a held-out part of
train, refit on all of train, test) and ``few-label`` (the paper's SVHN protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from gansuite import DataError, GANModel, ImageData, OptionError, ProbeContext, progress
from gansuite_probes.common import (
    Timer,
    bootstrap_ci,
    ci_fields,
    extract_features,
    feature_layout,
    mean_ci,
)
from gansuite_probes.config import SVMConfig
from gansuite_probes.l2svm import RowSpan, Standardizer, SVMFit, accuracy, fit_l2svm

__all__ = ["SVMProbe", "build", "labelled", "subset", "select_c", "gain_row"]


def build(config: SVMConfig) -> SVMProbe:
    """Factory registered for the ``svm`` probe."""
    return SVMProbe(config)


def labelled(data: ImageData, split: str) -> torch.Tensor:
    """The split's labels, or a clear error for an unlabelled dataset."""
    if data.labels is None:
        raise DataError(f"Split '{split}' has no labels; this probe needs a labelled dataset.")
    return data.labels.long()


def subset(n: int, limit: int | None, generator: torch.Generator) -> torch.Tensor:
    """A seeded random order of ``range(n)``, cut to ``limit`` items when given."""
    perm = torch.randperm(n, generator=generator)
    return perm[:limit] if limit is not None else perm


@dataclass
class _Features:
    """Standardised train/test features of one discriminator."""

    train: torch.Tensor
    test: torch.Tensor
    layers: list[int]
    seconds: float

    @property
    def dim(self) -> int:
        return int(self.train.shape[1])


def select_c(
    X_fit: torch.Tensor, y_fit: torch.Tensor, X_val: torch.Tensor, y_val: torch.Tensor,
    num_classes: int, config: SVMConfig, bar: Any = None, iterations: int | None = None,
) -> tuple[SVMFit, list[tuple[float, float]]]:
    """Fit every C of the grid (ascending, warm-started, each to convergence or ``iterations``,
    default ``config.max_iter``); the best fit on validation (the smallest C among ties) and the
    search ``[(C, validation accuracy), ...]``."""
    iterations = iterations or config.max_iter
    best: SVMFit | None = None
    best_acc = -1.0
    search: list[tuple[float, float]] = []
    previous: SVMFit | None = None
    all_converged = True
    span = RowSpan(X_fit) if RowSpan.worth(X_fit) else None
    for C in sorted(config.c_grid):
        fit = fit_l2svm(X_fit, y_fit, num_classes, C, max_iter=iterations, tol=config.tol, init=previous,
                        span=span)
        all_converged = all_converged and fit.converged
        acc = accuracy(fit.predict(X_val), y_val)
        search.append((C, acc))
        if acc > best_acc:
            best, best_acc = fit, acc
        previous = fit
        if bar is not None:
            bar.set_postfix(C=f"{C:g}", val=f"{acc:.4f}")
            bar.update(1)
    assert best is not None  # c_grid is never empty (checked by SVMConfig)
    best.converged = all_converged  # the choice is only as good as the worst fit compared
    return best, search


def gain_row(trained: dict[str, Any], random: dict[str, Any], seed: int) -> dict[str, Any]:
    """Accuracy of the trained D minus that of the random D, paired (same draws / test images)."""
    if trained["protocol"] == "few-label":
        diff = torch.tensor(random["errors"], dtype=torch.float64) - torch.tensor(trained["errors"], dtype=torch.float64)
        value, std, half = mean_ci(diff)
        ci = {"ci95": half, "ci95_low": value - half, "ci95_high": value + half, "std": std}
    else:
        ours = torch.tensor(trained.pop("_correct"), dtype=torch.float64)
        theirs = torch.tensor(random.pop("_correct"), dtype=torch.float64)
        value, lo, hi = bootstrap_ci(lambda i: (ours[i] - theirs[i]).mean(), (ours.numel(),), seed=seed)
        ci = ci_fields(value, lo, hi)
    return {"metric": "gain_over_random", "variant": "trained-random", "value": value, **ci,
            "protocol": trained["protocol"], "better": "higher (0: D learned nothing a random D lacks)"}


class SVMProbe:
    """Linear L2-SVM probe of D's features; also probes a randomly initialised D."""

    def __init__(self, config: SVMConfig | None = None) -> None:
        self.config = config or SVMConfig()

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        train = ctx.load_split(ctx.eval.train_split)
        test = ctx.load_split(ctx.eval.test_split)
        y_train = labelled(train, ctx.eval.train_split)
        y_test = labelled(test, ctx.eval.test_split)
        gen = torch.Generator().manual_seed(ctx.seed)
        order = subset(len(train), cfg.max_train, gen)
        test_idx = subset(len(test), cfg.max_test, gen).sort().values
        train_images, y_train = train.images[order], y_train[order]
        test_images, y_test = test.images[test_idx], y_test[test_idx]
        num_classes = max(len(train.classes), int(y_train.max()) + 1, int(y_test.max()) + 1)
        variants: list[tuple[str, Any]] = [("trained", lambda: ctx.model)]
        if cfg.random_control:
            variants.append(("random", lambda: ctx.make_random_model(ctx.seed)))
        rows: list[dict[str, Any]] = []
        for variant, make in variants:
            model = make()
            feats = self._features(model, train_images, test_images, ctx, variant)
            if cfg.protocol == "full":
                row = self._full(feats, y_train, y_test, num_classes, variant, ctx.progress)
            else:
                row = self._few_label(feats, y_train, y_test, num_classes, ctx.seed)
            row.update(variant=variant, feature_dim=feats.dim, layers=feats.layers,
                       time_features_s=round(feats.seconds, 2), pool_size=cfg.pool_size)
            row["time_s"] = round(row["time_features_s"] + row["time_svm_s"], 2)
            rows.append(row)
            del feats
        if len(rows) == 2:
            rows.append(gain_row(rows[0], rows[1], ctx.seed))
        for row in rows:
            row.pop("_correct", None)
        return rows

    def _features(self, model: GANModel, train: torch.Tensor, test: torch.Tensor, ctx: ProbeContext,
                  variant: str) -> _Features:
        cfg = self.config
        with Timer(ctx.device) as timer:
            kw = dict(device=ctx.device, pool_size=cfg.pool_size, batch_size=cfg.batch_size,
                      show_progress=ctx.progress)
            X_train = extract_features(model, train, desc=f"D features ({variant}, train)", **kw)
            X_test = extract_features(model, test, desc=f"D features ({variant}, test)", **kw)
            if cfg.standardize:
                scaler = Standardizer(X_train)
                scaler.apply_(X_train)
                scaler.apply_(X_test)
        return _Features(X_train, X_test, feature_layout(model), timer.seconds)

    def _full(self, feats: _Features, y_train: torch.Tensor, y_test: torch.Tensor, num_classes: int,
              variant: str = "trained", show_progress: bool = False) -> dict[str, Any]:
        cfg = self.config
        device = feats.train.device
        y_train, y_test = y_train.to(device), y_test.to(device)
        n = int(feats.train.shape[0])
        n_val = min(cfg.val_size, n // 4) if len(cfg.c_grid) > 1 else 0
        fits = (len(cfg.c_grid) if n_val > 0 else 0) + 1
        with Timer(device) as timer, progress(total=fits, desc=f"L2-SVM ({variant})", unit="fit", enabled=show_progress) as bar:
            search: list[tuple[float, float]] = []
            init = None
            n_search = n
            if n_val > 0:
                stop = n if cfg.search_max_train is None else min(n, n_val + cfg.search_max_train)
                n_search = stop - n_val
                init, search = select_c(feats.train[n_val:stop], y_train[n_val:stop], feats.train[:n_val],
                                        y_train[:n_val], num_classes, cfg, bar, cfg.search_iter)
            c_search = init.C if init is not None else cfg.c_grid[0]
            C = c_search * n_search / n  # the same regularisation per image as the search fit
            fit = fit_l2svm(feats.train, y_train, num_classes, C, max_iter=cfg.max_iter, tol=cfg.tol, init=init)
            correct = (fit.predict(feats.test) == y_test).cpu()
            bar.update(1)
        acc = float(correct.double().mean())
        half = 1.96 * (acc * (1 - acc) / max(correct.numel(), 1)) ** 0.5
        return {
            "metric": "accuracy", "value": acc, "ci95": half, "ci95_low": acc - half, "ci95_high": acc + half,
            "C": C, "C_search": c_search, "c_search": search,
            "val_accuracy": dict(search).get(c_search), "n_train": n, "n_val": n_val, "n_search": n_search,
            "n_test": int(feats.test.shape[0]), "iterations": fit.iterations,
            "converged": fit.converged and (init is None or init.converged),
            "gradient": fit.gradient, "train_accuracy": accuracy(fit.predict(feats.train), y_train),
            "time_svm_s": round(timer.seconds, 2), "protocol": "full", "better": "higher",
            "_correct": correct.tolist(),
        }

    def _draw(self, pool: torch.Tensor, y_pool: torch.Tensor, num_classes: int,
              generator: torch.Generator) -> torch.Tensor:
        per_class = self.config.labels_per_class
        picked = []
        for k in range(num_classes):
            members = pool[y_pool == k]
            if members.numel() < per_class:
                raise OptionError(
                    f"Class {k} has {members.numel()} images outside the validation split, fewer than "
                    f"labels_per_class={per_class}; lower -o svm.labels_per_class or svm.val_size."
                )
            picked.append(members[torch.randperm(members.numel(), generator=generator)[:per_class]])
        return torch.cat(picked)

    def _few_label(self, feats: _Features, y_train: torch.Tensor, y_test: torch.Tensor,
                   num_classes: int, seed: int) -> dict[str, Any]:
        cfg = self.config
        device = feats.train.device
        y_train, y_test = y_train.to(device), y_test.to(device)
        n = int(feats.train.shape[0])
        n_val = cfg.val_size
        if n_val >= n:
            raise OptionError(f"val_size={n_val} leaves no training images (the split has {n}); "
                              "lower -o svm.val_size.")
        X_val, y_val = feats.train[:n_val], y_train[:n_val]
        pool = torch.arange(n_val, n, device=device)
        errors, chosen, converged = [], [], True
        with Timer(device) as timer:
            for d in range(cfg.n_draws):
                gen = torch.Generator().manual_seed(seed * 100_003 + d)
                idx = self._draw(pool.cpu(), y_train[n_val:].cpu(), num_classes, gen).to(device)
                fit, _ = select_c(feats.train[idx], y_train[idx], X_val, y_val, num_classes, cfg)
                errors.append(1.0 - accuracy(fit.predict(feats.test), y_test))
                chosen.append(fit.C)
                converged = converged and fit.converged
        mean, std, half = mean_ci(errors)
        return {
            "metric": "error", "value": mean, "ci95": half, "ci95_low": mean - half, "ci95_high": mean + half,
            "spread95": 1.96 * std, "std": std, "better": "lower", "converged": converged,
            "accuracy": 1.0 - mean, "n_draws": cfg.n_draws,
            "labels_per_class": cfg.labels_per_class, "C": max(set(chosen), key=chosen.count),
            "c_chosen": chosen, "n_train": cfg.labels_per_class * num_classes, "n_val": n_val,
            "n_pool": n - n_val, "n_test": int(feats.test.shape[0]),
            "time_svm_s": round(timer.seconds, 2), "protocol": "few-label",
            "errors": [round(e, 6) for e in errors],
        }
