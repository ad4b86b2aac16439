"""What the fid, kid, prdc and is probes share: the extractor, the subjects and their controls.

Every probe scores three subjects through the same extractor and reference: the trained
generator, a randomly initialised one of the same architecture (``ctx.make_random_model``), and
held-out real images (a split the reference does not use): what a perfect generator would score
with these counts. Generated images come from ``model.eval_generator()`` when the model has one
(else ``model.generator``), in eval mode, batched, on ``ctx.device``; z (and labels, for a
conditional model) are drawn on the CPU under ``ctx.seed``, so the trained and the random
generator see the same latents.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gansuite import GANModel, OptionError, ProbeContext
from gansuite_probes.common import balanced_labels, eval_mode, sample_std_of, to_uint8
from gansuite_probes.inception import InceptionFeatures, embed
from gansuite_probes.refstats import Reference, reference

__all__ = ["extractor_for", "generated_batches", "generated_features", "Subject", "subjects", "holdout"]


def extractor_for(cfg: Any, device: Any) -> InceptionFeatures:
    """The configured extractor (bundled Inception unless ``cfg.weights``), on ``device``."""
    return InceptionFeatures(Path(cfg.weights) if cfg.weights else None, cfg.input_size).to(device)


def _generator(model: GANModel) -> torch.nn.Module:
    pick = getattr(model, "eval_generator", None)
    return pick() if callable(pick) else model.generator


@torch.no_grad()
def generated_batches(model: GANModel, n: int, seed: int, batch_size: int, device: Any) -> Iterator[torch.Tensor]:
    """``n`` generated uint8 images in batches (latents drawn on the CPU under ``seed``; a conditional
    model gets class-balanced labels, as in every probe).

    Images are made on the generator's device (``device`` when it has no parameters).
    """
    gen = torch.Generator().manual_seed(seed)
    net = _generator(model)
    first = next(iter(net.parameters()), None)
    device = first.device if first is not None else device  # latents go where G's weights are
    z_all = model.sample_z(n, generator=gen)  # all latents first: the images do not depend on batch_size
    labels = balanced_labels(model, n) if getattr(model, "num_classes", 0) else None  # 0, 1, .., 0, 1, ..
    with eval_mode(net):
        for i in range(0, n, batch_size):
            z = z_all[i : i + batch_size].to(device)
            x = net(z) if labels is None else net(z, labels[i : i + batch_size].to(device))
            yield to_uint8(x)


# The last features of each live generator, so that evals run one after another (fid, kid, prdc)
# embed its samples once. Keyed by the module (dropped with it) and its weights' version counters.
_MEMO: weakref.WeakKeyDictionary[torch.nn.Module, tuple[tuple[Any, ...], torch.Tensor]] = weakref.WeakKeyDictionary()


def generated_features(extractor: InceptionFeatures, model: GANModel, n: int, ctx: ProbeContext, batch_size: int,
                       desc: str) -> torch.Tensor:
    """Features of ``n`` samples of ``model`` under ``ctx.seed`` (reused while G's weights are unchanged)."""
    net = _generator(model)
    key = (n, ctx.seed, extractor.sha256, extractor.input_size, str(extractor.device),
           tuple(p._version for p in net.parameters()), tuple(b._version for b in net.buffers()))
    hit = _MEMO.get(net)
    if hit is not None and hit[0] == key:
        return hit[1]
    feats = embed(extractor, generated_batches(model, n, ctx.seed, batch_size, extractor.device), n,
                  show_progress=ctx.progress, desc=desc)
    _MEMO[net] = (key, feats)
    return feats


@dataclass
class Subject:
    """One scored set of features: ``variant`` is trained, random, early, gaussian-fit or real."""

    variant: str
    features: torch.Tensor
    info: dict[str, Any]


def holdout(ctx: ProbeContext, extractor: InceptionFeatures, cfg: Any, n: int) -> Reference:
    """Features of up to ``n`` held-out real images (cached like the reference)."""
    if cfg.holdout_split == getattr(cfg, "reference_split", None):
        raise OptionError(f"holdout_split and reference_split are both '{cfg.reference_split}'; the real control "
                          "needs images the reference does not hold: name another split, or -o real_control=false.")
    data = ctx.load_split(cfg.holdout_split)
    return reference(extractor, data, cfg.holdout_split, min(n, len(data)), batch_size=cfg.batch_size,
                     cache=cfg.cache, show_progress=ctx.progress)


def subjects(ctx: ProbeContext, extractor: InceptionFeatures, cfg: Any, n: int) -> Iterator[Subject]:
    """The real control first (when configured), then the trained and the random generator.

    Features are produced one subject at a time so that only one set is held at once.
    """
    if cfg.real_control:
        held = holdout(ctx, extractor, cfg, n)
        yield Subject("real", held.features(), {"n_samples": held.n, "holdout_split": cfg.holdout_split,
                                                "holdout_cached": held.cached})
    yield Subject("trained", generated_features(extractor, ctx.model, n, ctx, cfg.batch_size, "trained G"),
                  {"n_samples": n, "sample_std": sample_std_of(ctx.model, ctx.seed, ctx.device)})
    if cfg.random_control:
        random_model = ctx.make_random_model(ctx.seed)
        yield Subject("random", generated_features(extractor, random_model, n, ctx, cfg.batch_size, "random G"),
                      {"n_samples": n, "random_seed": ctx.seed,
                       "sample_std": sample_std_of(random_model, ctx.seed, ctx.device)})
    if getattr(cfg, "intermediate_controls", True):
        early = getattr(ctx, "make_early_model", lambda: None)()
        if early is not None:
            yield Subject("early", generated_features(extractor, early, n, ctx, cfg.batch_size, "early G"),
                          {"n_samples": n, "control_step": getattr(early, "checkpoint_step", None),
                           "sample_std": sample_std_of(early, ctx.seed, ctx.device)})
        fit = getattr(ctx, "make_data_fit_model", lambda seed: None)(ctx.seed)
        if fit is not None:
            yield Subject("gaussian-fit", generated_features(extractor, fit, n, ctx, cfg.batch_size, "Gaussian fit"),
                          {"n_samples": n, "sample_std": sample_std_of(fit, ctx.seed, ctx.device)})
