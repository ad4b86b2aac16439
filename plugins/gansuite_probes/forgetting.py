"""The ``forgetting`` probe: make G forget a concept by dropping feature maps (paper, section 6.3.1).

The paper labels windows in bedroom samples by hand, fits a logistic regression on G's
second-highest conv layer and drops the ~200 maps with positive weight: windows vanish. Here
the concept is picked from labels instead. A multinomial logistic regression trained on real
labelled images (on the trained D's pooled conv features, or on pixels) scores ``n_pool``
generated samples; the concept is the class G draws most often. A logistic regression on the
spatially pooled maps of G's second-highest block (``generator_blocks()[-2]``) predicts that
class's probability (soft targets). The maps with positive weight are zeroed by a forward hook
and z drawn again: how far does the concept's probability fall on the samples that showed it?
The concept and the maps are chosen on one sample set (``n_pool`` samples) and the drop is
measured on another (``n_score`` fresh samples), so the maps are not scored on the samples that
picked them. Controls: dropping as many random maps (``n_random_draws`` draws) and the same
procedure on a randomly initialised G, judged by the same classifier. Both logistic fits are
checked for convergence (the largest gradient entry below ``tol`` times its value at zero);
rows say how they ended and carry a ``note`` when one stopped short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gansuite import GANModel, OptionError, ProbeContext, save_image_grid
from gansuite_probes.classifiers import LogisticFit, fit_logistic
from gansuite_probes.common import balanced_labels, eval_mode, extract_features, to_float
from gansuite_probes.config import ForgettingConfig
from gansuite_probes.guided_backprop import bootstrap_ci, interval
from gansuite_probes.l2svm import Standardizer, accuracy
from gansuite_probes.svm import labelled, subset

__all__ = ["ForgettingProbe", "build", "fit_logistic", "LogisticFit", "ConceptClassifier", "generator_block",
           "sampler"]


def build(config: ForgettingConfig) -> ForgettingProbe:
    """Factory registered for the ``forgetting`` probe."""
    return ForgettingProbe(config)


@dataclass
class ConceptClassifier:
    """Images (uint8, or float in [-1, 1]) -> class probabilities, from a fixed feature map."""

    judge: GANModel
    kind: str
    scaler: Standardizer | None
    weight: torch.Tensor
    bias: torch.Tensor
    device: Any
    batch_size: int

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if self.kind == "pixels":
            x = to_float(images) if images.dtype == torch.uint8 else images.float()
            X = x.flatten(1).to(self.device)
        else:
            X = extract_features(self.judge, images, device=self.device, batch_size=self.batch_size)
        return self.scaler.apply_(X) if self.scaler is not None else X

    def probs(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(torch.addmm(self.bias, self.features(images), self.weight), 1).cpu()


def sampler(model: GANModel) -> nn.Module:
    """The generator probes draw from: ``model.eval_generator()`` if the model has one."""
    fn = getattr(model, "eval_generator", None)
    return fn() if callable(fn) else model.generator


def generator_block(model: GANModel, g: nn.Module, index: int = -2) -> nn.Module:
    """``model.generator_blocks()[index]``, as a submodule of ``g`` (found by name in a copy of G)."""
    fn = getattr(model, "generator_blocks", None)
    blocks = list(fn()) if callable(fn) else []
    name = type(model).__name__
    if not blocks:
        raise OptionError(f"Model {name} lists no generator blocks (generator_blocks() is missing or "
                          "returned []); this probe hooks one of G's blocks, so the model must list them.")
    if len(blocks) < -index:
        raise OptionError(f"Model {name} lists {len(blocks)} generator blocks; block index {index} needs "
                          f"at least {-index} (set -o forgetting.block between -1 and -{len(blocks)}).")
    block = blocks[index]
    if any(m is block for m in g.modules()):
        return block
    names = {id(m): n for n, m in model.generator.named_modules()}
    try:
        return g.get_submodule(names[id(block)])
    except (KeyError, AttributeError):
        raise OptionError(f"Model {name}'s generator_blocks() are not part of the generator it samples "
                          "with (eval_generator()); return blocks of that network.") from None


class _Drawer:
    """G(z) in eval mode with a forward hook on one block: records its pooled maps, zeroes some."""

    def __init__(self, g: nn.Module, block: nn.Module, pool: str, batch_size: int) -> None:
        self.g, self.block, self.pool, self.batch_size = g, block, pool, batch_size
        self.drop: torch.Tensor | None = None
        self.record: list[torch.Tensor] = []

    def _hook(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor | None:
        if output.dim() != 4:
            raise OptionError(f"G block {type(module).__name__} outputs shape {tuple(output.shape)}, not a "
                              "4-D feature map; generator_blocks() must list blocks with 4-D outputs.")
        self.record.append((output.amax((2, 3)) if self.pool == "max" else output.mean((2, 3))).float().cpu())
        if self.drop is None or self.drop.numel() == 0:
            return None
        output = output.clone()
        output[:, self.drop.to(output.device)] = 0
        return output

    @torch.no_grad()
    def __call__(self, z: torch.Tensor, y: torch.Tensor | None, drop: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        self.drop, self.record = drop, []
        out = []
        handle = self.block.register_forward_hook(self._hook)
        try:
            with eval_mode(self.g):
                for i in range(0, z.shape[0], self.batch_size):
                    args = (z[i : i + self.batch_size],) + ((y[i : i + self.batch_size],) if y is not None else ())
                    out.append(self.g(*args).float())
        finally:
            handle.remove()
        return torch.cat(out), torch.cat(self.record)


class ForgettingProbe:
    """Drop of the concept's probability when G's positive-weight maps are zeroed, against controls."""

    def __init__(self, config: ForgettingConfig | None = None) -> None:
        self.config = config or ForgettingConfig()

    def _classifier(self, ctx: ProbeContext, gen: torch.Generator) -> tuple[ConceptClassifier, dict[str, Any]]:
        cfg = self.config
        train, test = ctx.load_split(ctx.eval.train_split), ctx.load_split(ctx.eval.test_split)
        idx = subset(len(train), cfg.n_classifier, gen)
        y = labelled(train, ctx.eval.train_split)[idx]
        num_classes = max(len(train.classes), int(y.max()) + 1)
        clf = ConceptClassifier(ctx.model, cfg.classifier_features, None, torch.empty(0), torch.empty(0),
                                ctx.device, cfg.batch_size)
        X = clf.features(train.images[idx])
        clf.scaler = Standardizer(X)
        clf.scaler.apply_(X)
        targets = F.one_hot(y.to(X.device), num_classes).float()
        fit = fit_logistic(X, targets, cfg.classifier_l2, cfg.max_iter, cfg.tol)
        clf.weight, clf.bias = fit.weight, fit.bias
        t_idx = subset(len(test), 2000, gen)
        y_test = labelled(test, ctx.eval.test_split)[t_idx]
        acc = accuracy(clf.probs(test.images[t_idx]).argmax(1), y_test)
        chance = float(torch.bincount(y_test, minlength=num_classes).max()) / max(1, y_test.numel())
        return clf, {"value": acc, "chance": chance, "n_classes": num_classes, "n_train": int(idx.numel()),
                     "n_test": int(t_idx.numel()), "classes": list(train.classes), **fit.fields("classifier")}

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        gen = torch.Generator().manual_seed(ctx.seed)
        clf, info = self._classifier(ctx, gen)
        rows: list[dict[str, Any]] = []
        for variant, model in (("trained", ctx.model), ("random", ctx.make_random_model(ctx.seed))):
            rows += self._forget(model, variant, clf, info["classes"], ctx, gen)
        classes = info.pop("classes")
        rows.append({"metric": "classifier_accuracy", "variant": "real-test", **info,
                     "classifier_features": cfg.classifier_features, "n_class_names": len(classes)})
        judged_by = {k: v for k, v in info.items() if k.startswith("classifier_")}
        for row in rows:
            row.update({k: v for k, v in judged_by.items() if k not in row})  # every row: its judge's fit
            notes = [f"{what} fit stopped at gradient {row[f'{key}_gradient']:.2g} > {cfg.tol:g}"
                     for key, what in (("classifier", "classifier"), ("map_fit", "map"))
                     if row.get(f"{key}_converged") is False]
            if notes:
                row["note"] = "; ".join(notes)
        return rows

    def _forget(self, model: GANModel, variant: str, clf: ConceptClassifier, classes: list[str],
                ctx: ProbeContext, gen: torch.Generator) -> list[dict[str, Any]]:
        cfg = self.config
        g = sampler(model)
        draw = _Drawer(g, generator_block(model, g, cfg.block), cfg.pool, cfg.batch_size)
        # Selection: the concept and the maps, on n_pool samples.
        z = model.sample_z(cfg.n_pool, generator=gen).to(ctx.device)
        x, maps = draw(z, balanced_labels(model, cfg.n_pool, ctx.device))
        probs = clf.probs(x)
        pred = probs.argmax(1)
        counts = torch.bincount(pred, minlength=probs.shape[1]).double()
        concept = int((counts + probs.mean(0).double() * 1e-3).argmax())  # ties: the larger mean probability
        positive, n_positive, map_fit = self._positive_maps(maps, probs[:, concept])
        # Scoring: fresh samples that show the concept, drawn again with maps dropped.
        z = model.sample_z(cfg.n_score, generator=gen).to(ctx.device)
        y = balanced_labels(model, cfg.n_score, ctx.device)
        x, _ = draw(z, y)
        probs = clf.probs(x)
        keep = torch.nonzero(probs.argmax(1) == concept).flatten()[: cfg.max_eval]
        dropped = _Drop(draw, clf, concept, z[keep], y[keep] if y is not None else None, probs[keep, concept])
        pos = dropped(positive)
        rand = [dropped(torch.randperm(maps.shape[1], generator=gen)[: positive.numel()])
                for _ in range(cfg.n_random_draws)]
        figure = None
        if cfg.grid_samples:
            n = min(cfg.grid_samples, keep.numel())
            shown = torch.cat([x[keep[:n]], pos["images"][:n], rand[0]["images"][:n]])
            figure = str(save_image_grid(shown, ctx.out_dir / f"forgetting-{variant}.png", nrow=max(n, 1)))
        common = {"concept": concept, "concept_name": classes[concept] if concept < len(classes) else str(concept),
                  "concept_share": float(counts[concept] / counts.sum()), "n_pool": cfg.n_pool,
                  "n_score": cfg.n_score, **map_fit.fields("map_fit"),
                  "selection": "concept and maps chosen on n_pool samples; drop measured on n_score others",
                  "n_eval": int(keep.numel()), "n_maps": int(maps.shape[1]), "n_dropped": int(positive.numel()),
                  "n_positive": n_positive,
                  "p_before": float(dropped.before.mean()), "block": cfg.block,
                  "block_type": type(draw.block).__name__, "pool": cfg.pool}
        return self._rows(variant, pos, rand, common, figure, gen)

    def _positive_maps(self, maps: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, int, LogisticFit]:
        """The maps with positive weight in a logistic regression of ``target``, largest weight
        first (the ``n_drop`` largest when set), how many maps have a positive weight, the fit."""
        cfg = self.config
        X = Standardizer(maps).apply_(maps.clone())
        fit = fit_logistic(X, torch.stack([1 - target, target], 1), cfg.map_l2, cfg.max_iter, cfg.tol)
        w = fit.weight[:, 1] - fit.weight[:, 0]
        positive = torch.nonzero(w > 0).flatten()
        positive = positive[w[positive].argsort(descending=True)]
        return positive[: cfg.n_drop], int(positive.numel()), fit

    def _rows(self, variant: str, pos: dict[str, Any], rand: list[dict[str, Any]], common: dict[str, Any],
              figure: str | None, gen: torch.Generator) -> list[dict[str, Any]]:
        rand_means = torch.tensor([float(r["drop"].mean()) for r in rand], dtype=torch.float64)
        pos_mean = float(pos["drop"].mean())
        spread = torch.quantile(rand_means, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
        return [
            {"metric": "concept_prob_drop", "variant": f"{variant}:positive-maps", "value": pos_mean,
             **interval(*bootstrap_ci(pos["drop"], self.config.n_boot, gen)), **common,
             "p_after": float(pos["after"].mean()), "removed_fraction": pos["removed"],
             "minus_random_maps": pos_mean - float(rand_means.mean()),
             "random_maps_at_least": float((rand_means >= pos_mean).double().mean()), "figure": figure},
            {"metric": "concept_prob_drop", "variant": f"{variant}:random-maps", "value": float(rand_means.mean()),
             **interval(*spread), **common, "p_after": float(torch.stack([r["after"].mean() for r in rand]).mean()),
             "removed_fraction": sum(r["removed"] for r in rand) / len(rand), "n_draws": len(rand),
             "draws": [round(float(v), 6) for v in rand_means]},
        ]


class _Drop:
    """Draws the evaluated z again with some maps zeroed; the concept's probability before/after."""

    def __init__(self, draw: Callable[..., tuple[torch.Tensor, torch.Tensor]], clf: ConceptClassifier,
                 concept: int, z: torch.Tensor, y: torch.Tensor | None, before: torch.Tensor) -> None:
        self.draw, self.clf, self.concept, self.z, self.y, self.before = draw, clf, concept, z, y, before

    def __call__(self, maps: torch.Tensor) -> dict[str, Any]:
        images, _ = self.draw(self.z, self.y, maps)
        probs = self.clf.probs(images)
        after = probs[:, self.concept]
        removed = float((probs.argmax(1) != self.concept).double().mean()) if after.numel() else float("nan")
        return {"images": images, "after": after, "drop": self.before - after, "removed": removed}
