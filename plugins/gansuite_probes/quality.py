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

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gansuite import GANModel, OptionError, ProbeContext
from gansuite_probes.common import (
    SAMPLE_STD_N,
    balanced_labels,
    eval_mode,
    output_gain,
    sample_std,
    sample_std_of,
    to_uint8,
)
from gansuite_probes.inception import InceptionFeatures, embed
from gansuite_probes.refstats import Reference, reference

__all__ = ["extractor_for", "generated_batches", "generated_features", "weights_fingerprint", "Subject",
           "subjects", "holdout", "MEMO_ENTRIES"]


def extractor_for(cfg: Any, device: Any) -> InceptionFeatures:
    """The configured extractor (bundled Inception unless ``cfg.weights``), on ``device``."""
    precision = getattr(cfg, "precision", "float32")
    if precision != "float32" and torch.device(device).type != "cuda":
        raise OptionError(f"-o precision={precision} is for CUDA only (this eval runs on {torch.device(device).type}, "
                          "where bf16 convolutions are slow); drop it.")
    return InceptionFeatures(Path(cfg.weights) if cfg.weights else None, cfg.input_size,
                             precision=precision).to(device)


def _generator(model: GANModel) -> torch.nn.Module:
    pick = getattr(model, "eval_generator", None)
    return pick() if callable(pick) else model.generator


def _latents(model: GANModel, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """All ``n`` latents (drawn on the CPU under ``seed``) and class-balanced labels (conditional models)."""
    z_all = model.sample_z(n, generator=torch.Generator().manual_seed(seed))
    labels = balanced_labels(model, n) if getattr(model, "num_classes", 0) else None  # 0, 1, .., 0, 1, ..
    return z_all, labels


@torch.no_grad()
def _batches(model: GANModel, z_all: torch.Tensor, labels: torch.Tensor | None, batch_size: int,
             device: Any) -> Iterator[torch.Tensor]:
    net = _generator(model)
    first = next(iter(net.parameters()), None)
    device = first.device if first is not None else device  # latents go where G's weights are
    with eval_mode(net):
        for i in range(0, z_all.shape[0], batch_size):
            z = z_all[i : i + batch_size].to(device)
            x = net(z) if labels is None else net(z, labels[i : i + batch_size].to(device))
            yield to_uint8(x)


def generated_batches(model: GANModel, n: int, seed: int, batch_size: int, device: Any) -> Iterator[torch.Tensor]:
    """``n`` generated uint8 images in batches (latents drawn on the CPU under ``seed``; a conditional
    model gets class-balanced labels, as in every probe).

    Images are made on the generator's device (``device`` when it has no parameters).
    """
    z_all, labels = _latents(model, n, seed)  # all latents first: the images do not depend on batch_size
    return _batches(model, z_all, labels, batch_size, device)


def weights_fingerprint(net: torch.nn.Module) -> str | None:
    """sha256 of a network's class, parameters and buffers (names, shapes, dtypes, bytes); None for
    a network with neither (what it computes is not in its tensors, so it cannot be recognised)."""
    tensors = [*net.named_parameters(), *net.named_buffers()]
    if not tensors:
        return None
    digest = hashlib.sha256(f"{type(net).__module__}.{type(net).__qualname__}".encode())
    for name, t in tensors:
        digest.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        digest.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


# Features of the generators embedded last, so that every Inception probe of one eval command
# (fid, kid, prdc, is; several evals in a row) streams a generator's samples through the
# extractor once. Keyed by the generator's weights (so the random control, rebuilt per probe
# under the same seed, is found too), the seed and the extractor; a request for fewer samples is
# served from the first rows when its latents are the first rows of the stored ones, a request
# for more embeds only the samples beyond them. The last MEMO_ENTRIES generators are kept.
MEMO_ENTRIES = 4
_MEMO: OrderedDict[tuple[Any, ...], tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] = OrderedDict()


def _extractor_key(extractor: InceptionFeatures) -> tuple[Any, ...]:
    return (extractor.sha256, extractor.input_size, getattr(extractor, "precision", "float32"),
            getattr(extractor, "runtime", ""), str(extractor.device))


def _same_prefix(a: torch.Tensor | None, b: torch.Tensor | None, n: int) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape[1:] == b.shape[1:] and torch.equal(a[:n], b[:n])


def generated_features(extractor: InceptionFeatures, model: GANModel, n: int, ctx: ProbeContext, batch_size: int,
                       desc: str) -> torch.Tensor:
    """Features of ``n`` samples of ``model`` under ``ctx.seed`` (reused while G's weights are unchanged)."""
    fingerprint = weights_fingerprint(_generator(model))
    key = (fingerprint, ctx.seed, *_extractor_key(extractor))
    z_all, labels = _latents(model, n, ctx.seed)
    hit = _MEMO.get(key) if fingerprint is not None else None
    done = 0
    if hit is not None:
        z_old, labels_old, feats_old = hit
        done = min(n, z_old.shape[0])
        if not (_same_prefix(z_all, z_old, done) and _same_prefix(labels, labels_old, done)):
            done = 0
        elif n <= z_old.shape[0]:
            _MEMO.move_to_end(key)
            return feats_old[:n]
    rest = n - done
    feats = embed(extractor, _batches(model, z_all[done:], None if labels is None else labels[done:], batch_size,
                                      extractor.device), rest, show_progress=ctx.progress, desc=desc)
    if done:
        feats = torch.cat([hit[2][:done], feats])  # type: ignore[index]
    if fingerprint is None:
        return feats
    _MEMO[key] = (z_all, labels, feats)
    _MEMO.move_to_end(key)
    while len(_MEMO) > MEMO_ENTRIES:
        _MEMO.popitem(last=False)
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
        images = ctx.load_split(cfg.holdout_split).images
        yield Subject("real", held.features(), {"n_samples": held.n, "holdout_split": cfg.holdout_split,
                                                "holdout_cached": held.cached,
                                                "sample_std": round(sample_std(images[:SAMPLE_STD_N]), 5)})
    yield Subject("trained", generated_features(extractor, ctx.model, n, ctx, cfg.batch_size, "trained G"),
                  {"n_samples": n, "sample_std": sample_std_of(ctx.model, ctx.seed, ctx.device)})
    if cfg.random_control:
        random_model = ctx.make_random_model(ctx.seed)
        yield Subject("random", generated_features(extractor, random_model, n, ctx, cfg.batch_size, "random G"),
                      {"n_samples": n, "random_seed": ctx.seed,
                       "sample_std": sample_std_of(random_model, ctx.seed, ctx.device),
                       **output_gain(random_model)})
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
