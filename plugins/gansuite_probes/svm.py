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
from gansuite_probes.common import Timer, extract_features, feature_layout, mean_ci
from gansuite_probes.config import SVMConfig
from gansuite_probes.l2svm import RowSpan, Standardizer, SVMFit, accuracy, fit_l2svm
from gansuite_probes.resampling import paired_gain, resample_means

__all__ = ["SVMProbe", "build", "labelled", "subset", "select_c", "gain_row", "fit_fields", "folds"]


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
    worst: SVMFit | None = None
    span = RowSpan(X_fit) if RowSpan.worth(X_fit) else None
    for C in sorted(config.c_grid):
        fit = fit_l2svm(X_fit, y_fit, num_classes, C, max_iter=iterations, tol=config.tol, init=previous,
                        span=span)
        if worst is None or _shortfall(fit) > _shortfall(worst):
            worst = fit
        acc = accuracy(fit.predict(X_val), y_val)
        search.append((C, acc))
        if acc > best_acc:
            best, best_acc = fit, acc
        previous = fit
        if bar is not None:
            bar.set_postfix(C=f"{C:g}", val=f"{acc:.4f}")
            bar.update(1)
    assert best is not None and worst is not None  # c_grid is never empty (checked by SVMConfig)
    # The choice is only as good as the worst fit compared: report that fit's criterion.
    best.converged = worst.converged and best.converged
    if not worst.converged:
        best.gradient, best.target, best.stop = worst.gradient, worst.target, worst.stop
    return best, search


def _shortfall(fit: SVMFit) -> float:
    """How far a fit ended from its gradient target (<= 1: met)."""
    return fit.gradient / fit.target if fit.target > 0 else float("inf")


def fit_fields(fits: list[SVMFit]) -> dict[str, Any]:
    """Row fields of the fits behind a number: ``converged`` only when every fit met the gradient
    criterion; ``gradient`` / ``target`` / ``iterations`` / ``stop`` of the fit furthest from it;
    ``note`` (printed in tables) when one stopped for another reason."""
    worst = max(fits, key=_shortfall)
    failed = sum(not f.converged for f in fits)
    note = worst.note() + (f" ({failed} of {len(fits)} fits)" if failed and len(fits) > 1 else "")
    return {"converged": failed == 0, "gradient": worst.gradient, "target": worst.target,
            "iterations": max(f.iterations for f in fits), "stop": worst.stop,
            "fits_not_converged": failed, **({"note": note} if note else {})}


def folds(n: int, k: int, generator: torch.Generator) -> list[torch.Tensor]:
    """``k`` disjoint test folds covering ``range(n)`` (a seeded permutation cut in k near-equal parts)."""
    return [f.sort().values for f in torch.randperm(n, generator=generator).chunk(k)]


def gain_row(trained: dict[str, Any], control: dict[str, Any], seed: int, n_boot: int = 2000,
             name: str = "random") -> dict[str, Any]:
    """The trained D's lead over a control D (``name``: random or early), paired: both scored on
    the same test images (and the same label draws), the interval from
    :func:`gansuite_probes.resampling.paired_gain` (accuracy gain in ``full``; error of the control
    D minus error of the trained D in ``few-label``, so higher is better in both)."""
    ours = torch.as_tensor(trained["_correct"], dtype=torch.float64).reshape(-1, trained["n_test"])
    theirs = torch.as_tensor(control["_correct"], dtype=torch.float64).reshape(-1, control["n_test"])
    gain = paired_gain(ours, theirs, n_boot=n_boot, seed=seed)
    lacks = "a random D lacks" if name == "random" else f"the {name} D lacks"
    row = {"metric": f"gain_over_{name}", "variant": f"trained-{name}", "control": name, **gain,
           "protocol": trained["protocol"],
           "better": f"higher (0: D learned nothing {lacks})"}
    split = trained.get("_test_split")
    if split is not None and 0 < int(split.sum()) < split.numel():  # cross-fit: the held-out split alone too
        part = paired_gain(ours[:, split], theirs[:, split], n_boot=n_boot, seed=seed)
        row.update({f"test_split_{k}": part[k] for k in ("value", "ci95_low", "ci95_high", "n_test", "note")})
    return row


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
        if cfg.early_control:
            variants.append(("early", getattr(ctx, "make_early_model", lambda: None)))
        rows: list[dict[str, Any]] = []
        for variant, make in variants:
            model = make()
            if model is None:  # the run kept no early checkpoint
                continue
            if cfg.cross_fit:
                row = self._cross_fit(model, train_images, y_train, test_images, y_test, num_classes, ctx, variant)
            else:
                feats = self._features(model, train_images, test_images, ctx, variant)
                if cfg.protocol == "full":
                    row = self._full(feats, y_train, y_test, num_classes, variant, ctx.progress)
                else:
                    row = self._few_label(feats.train, y_train, feats.test, y_test, num_classes, ctx.seed)
                    row = self._few_label_row(row, n_pool=feats.train.shape[0] - cfg.val_size, seed=ctx.seed)
                row.update(feature_dim=feats.dim, layers=feats.layers, time_features_s=round(feats.seconds, 2))
                del feats
            row.update(variant=variant, pool_size=cfg.pool_size)
            if variant == "early":
                row["control_step"] = getattr(model, "checkpoint_step", None)
            row["time_s"] = round(row["time_features_s"] + row["time_svm_s"], 2)
            rows.append(row)
        by = {row["variant"]: row for row in rows}
        for name in ("random", "early"):  # the trained D against each control D, paired
            if name in by:
                rows.append(gain_row(by["trained"], by[name], ctx.seed, cfg.n_boot, name))
        for row in rows:
            row.pop("_correct", None)
            row.pop("_test_split", None)
        return rows

    def _features(self, model: GANModel, train: torch.Tensor, test: torch.Tensor, ctx: ProbeContext,
                  variant: str, standardize: bool | None = None) -> _Features:
        cfg = self.config
        with Timer(ctx.device) as timer:
            kw = dict(device=ctx.device, pool_size=cfg.pool_size, batch_size=cfg.batch_size,
                      show_progress=ctx.progress)
            X_train = extract_features(model, train, desc=f"D features ({variant}, train)", **kw)
            X_test = extract_features(model, test, desc=f"D features ({variant}, test)", **kw)
            if cfg.standardize if standardize is None else standardize:
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
        with progress(total=fits, desc=f"L2-SVM ({variant})", unit="fit", enabled=show_progress) as bar:
            search: list[tuple[float, float]] = []
            init = None
            n_search = n
            with Timer(device) as t_search:
                if n_val > 0:
                    stop = n if cfg.search_max_train is None else min(n, n_val + cfg.search_max_train)
                    n_search = stop - n_val
                    init, search = select_c(feats.train[n_val:stop], y_train[n_val:stop], feats.train[:n_val],
                                            y_train[:n_val], num_classes, cfg, bar, cfg.search_iter)
            c_search = init.C if init is not None else cfg.c_grid[0]
            C = c_search * n_search / n  # the same regularisation per image as the search fit
            with Timer(device) as t_final:
                fit = fit_l2svm(feats.train, y_train, num_classes, C, max_iter=cfg.max_iter, tol=cfg.tol, init=init)
                correct = (fit.predict(feats.test) == y_test).cpu()
            bar.update(1)
        acc = float(correct.double().mean())
        half = 1.96 * (acc * (1 - acc) / max(correct.numel(), 1)) ** 0.5
        n_test = int(feats.test.shape[0])
        return {
            "metric": "accuracy", "value": acc, "ci95": half, "ci95_low": acc - half, "ci95_high": acc + half,
            "ci_method": f"binomial (normal approximation) over {n_test:,} test images",
            "C": C, "C_search": c_search, "c_search": search,
            "val_accuracy": dict(search).get(c_search), "n_train": n, "n_val": n_val, "n_search": n_search,
            "n_test": n_test, **fit_fields([fit] + ([init] if init is not None else [])),
            "train_accuracy": accuracy(fit.predict(feats.train), y_train),
            "time_search_s": round(t_search.seconds, 2), "time_final_fit_s": round(t_final.seconds, 2),
            "time_svm_s": round(t_search.seconds + t_final.seconds, 2), "protocol": "full", "better": "higher",
            "_correct": correct.double(),
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

    def _few_label(self, X_train: torch.Tensor, y_train: torch.Tensor, X_test: torch.Tensor,
                   y_test: torch.Tensor, num_classes: int, seed: int) -> dict[str, Any]:
        """``n_draws`` label draws from ``X_train`` past its first ``val_size`` rows (the fixed
        validation split), C chosen on that split, each draw's fit scored on every test image:
        the correctness matrix ``(draws, test images)``, the fits, the chosen Cs, the time."""
        cfg = self.config
        device = X_train.device
        y_train, y_test = y_train.to(device), y_test.to(device)
        n = int(X_train.shape[0])
        n_val = cfg.val_size
        if n_val >= n:
            raise OptionError(f"val_size={n_val} leaves no training images (the split has {n}); "
                              "lower -o svm.val_size.")
        X_val, y_val = X_train[:n_val], y_train[:n_val]
        pool = torch.arange(n_val, n, device=device)
        correct, chosen, fits = [], [], []
        with Timer(device) as timer:
            for d in range(cfg.n_draws):
                gen = torch.Generator().manual_seed(seed * 100_003 + d)
                idx = self._draw(pool.cpu(), y_train[n_val:].cpu(), num_classes, gen).to(device)
                fit, _ = select_c(X_train[idx], y_train[idx], X_val, y_val, num_classes, cfg)
                correct.append((fit.predict(X_test) == y_test).cpu().double())
                chosen.append(fit.C)
                fits.append(fit)
        return {"correct": torch.stack(correct), "fits": fits, "chosen": chosen, "seconds": timer.seconds,
                "num_classes": num_classes}

    def _few_label_row(self, part: dict[str, Any], n_pool: int, seed: int, unit: str = "test images"
                       ) -> dict[str, Any]:
        cfg = self.config
        correct = part["correct"]
        errors = (1.0 - correct.mean(1)).tolist()
        n_test = int(correct.shape[1])
        mean = 1.0 - float(correct.mean())
        _, std, _ = mean_ci(errors)
        boot = 1.0 - resample_means(correct, cfg.n_boot, torch.Generator().manual_seed(seed))
        lo, hi = torch.quantile(boot, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
        chosen = part["chosen"]
        return {
            "metric": "error", "value": mean, "ci95": max(mean - lo, hi - mean), "ci95_low": lo, "ci95_high": hi,
            "ci_method": f"percentile bootstrap over {n_test:,} {unit} and {correct.shape[0]:,} label draws "
                         f"({cfg.n_boot:,} resamples)",
            "spread95": 1.96 * std, "std": std, "better": "lower", **fit_fields(part["fits"]),
            "accuracy": 1.0 - mean, "n_draws": int(correct.shape[0]),
            "labels_per_class": cfg.labels_per_class, "C": max(set(chosen), key=chosen.count),
            "c_chosen": chosen, "n_train": cfg.labels_per_class * part["num_classes"],
            "n_val": cfg.val_size, "n_pool": n_pool, "n_test": n_test,
            "time_svm_s": round(part["seconds"], 2), "protocol": "few-label",
            "errors": [round(e, 6) for e in errors], "_correct": correct,
        }

    def _cross_fit(self, model: GANModel, train_images: torch.Tensor, y_train: torch.Tensor,
                   test_images: torch.Tensor, y_test: torch.Tensor, num_classes: int, ctx: ProbeContext,
                   variant: str) -> dict[str, Any]:
        """Few-label over every image of both splits: ``cross_fit`` folds, each the test set of
        ``n_draws`` label draws from the other folds (validation split first, as in
        :meth:`_few_label`); features standardised on the other folds. Every image is tested once
        (in each of its fold's draws)."""
        cfg = self.config
        if cfg.protocol != "few-label":
            raise OptionError("cross_fit applies to the few-label protocol; set -o svm.protocol=few-label "
                              "or -o svm.cross_fit=0.")
        feats = self._features(model, train_images, test_images, ctx, variant, standardize=False)
        X = torch.cat([feats.train, feats.test])
        y = torch.cat([y_train, y_test]).to(X.device)
        from_test = torch.cat([torch.zeros(len(y_train), dtype=torch.bool), torch.ones(len(y_test), dtype=torch.bool)])
        n = int(X.shape[0])
        parts = folds(n, cfg.cross_fit, torch.Generator().manual_seed(ctx.seed))
        correct = torch.empty(cfg.n_draws, n, dtype=torch.float64)
        fits: list[SVMFit] = []
        chosen: list[float] = []
        seconds = 0.0
        for f, test_idx in enumerate(parts):
            mask = torch.ones(n, dtype=torch.bool)
            mask[test_idx] = False
            rest = torch.nonzero(mask).flatten()
            rest = rest[torch.randperm(rest.numel(), generator=torch.Generator().manual_seed(ctx.seed + f))]
            X_rest, X_fold = X[rest.to(X.device)].clone(), X[test_idx.to(X.device)].clone()
            if cfg.standardize:
                scaler = Standardizer(X_rest)
                scaler.apply_(X_rest)
                scaler.apply_(X_fold)
            part = self._few_label(X_rest, y[rest.to(X.device)], X_fold, y[test_idx.to(X.device)], num_classes,
                                   ctx.seed * 1_009 + f)
            correct[:, test_idx] = part["correct"]
            fits += part["fits"]
            chosen += part["chosen"]
            seconds += part["seconds"]
        row = self._few_label_row({"correct": correct, "fits": fits, "chosen": chosen, "seconds": seconds,
                                   "num_classes": num_classes},
                                  n_pool=n - len(parts[0]) - cfg.val_size, seed=ctx.seed,
                                  unit="images (cross-fitted: each tested in its fold)")
        row.update(cross_fit=cfg.cross_fit, n_fold_test=[int(p.numel()) for p in parts], feature_dim=feats.dim,
                   layers=feats.layers, time_features_s=round(feats.seconds, 2), _test_split=from_test)
        return row
