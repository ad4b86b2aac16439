"""The ``guided-backprop`` probe: what D's last conv layer responds to (paper, section 6.2).

For each channel of D's last conv layer (``model.features(x)[-1]``) the ``top_k`` real images
with the largest spatial maximum are its preferred images; the channels whose preferred images
excite them most are analysed. For every (channel, preferred image) pair the guided
backpropagation image (Springenberg et al. 2014, arXiv:1412.6806) is the gradient of the
channel's maximum with respect to the input, where every ReLU/LeakyReLU passes back only
positive gradients and only where its forward input was positive.

The model is never modified: while the guided pass runs, a torch dispatch mode replaces the
backward op of each ReLU/LeakyReLU by the guided one, so the same pass runs on an eager D, a
TorchScript D and a ``torch.export`` D (TorchScript's graph runs unoptimised meanwhile, so its
backward uses the same ops). The same analysis of a randomly initialised D of the same
architecture (the paper's random-filter baseline) is the control. Numbers, each with a bootstrap
95% interval over channels: the share of guided-gradient mass in the top pixels (concentration),
and, on labelled data, how often a channel's preferred images share one label (purity), next
to the purity of as many images drawn at random.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from gansuite import GANModel, OptionError, ProbeContext, save_image_grid
from gansuite_probes.common import eval_mode, model_device, to_float
from gansuite_probes.config import GuidedBackpropConfig
from gansuite_probes.svm import labelled, subset

__all__ = ["GuidedBackpropProbe", "GuidedBackprop", "build", "guided_gradients", "bootstrap_ci",
           "interval", "label_purity"]

_ATEN = torch.ops.aten


def build(config: GuidedBackpropConfig) -> GuidedBackpropProbe:
    """Factory registered for the ``guided-backprop`` probe."""
    return GuidedBackpropProbe(config)


class GuidedBackprop(TorchDispatchMode):
    """``with GuidedBackprop() as gb: ...``: every ReLU/LeakyReLU gets the guided backward.

    It works at the dispatcher, on the backward ops autograd runs for these activations
    (``threshold_backward`` for ReLU, ``leaky_relu_backward`` for LeakyReLU, whatever called them:
    a module, a functional call, in place or not, an eager network, a TorchScript interpreter or a
    ``torch.export`` program): each gets only the positive part of its incoming gradient, and
    passes it where the forward input was positive. Nothing on the model changes; ``calls``
    counts the replaced backward ops.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is _ATEN.threshold_backward.default:
            grad, x, threshold = args
        elif func is _ATEN.leaky_relu_backward.default:
            # (grad, input or result, slope, result given): result > 0 exactly where input > 0
            grad, x, threshold = args[0], args[1], 0
        else:
            return func(*args, **kwargs)
        self.calls += 1
        return _ATEN.threshold_backward.default(grad.clamp_min(0), x, threshold)


def _arg(args: tuple, kwargs: dict, pos: int, name: str, default: Any) -> Any:
    return args[pos] if len(args) > pos else kwargs.get(name, default)


def _last_layer(model: GANModel, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """D's last conv activations (a conditional model's D also gets the images' labels)."""
    feats = model.features(x, y) if getattr(model, "num_classes", 0) else model.features(x)
    if not feats:
        raise OptionError(f"{type(model).__name__}.features returned no layers; the probe needs "
                          "D's conv activations.")
    return feats[-1]


def guided_gradients(model: GANModel, images: torch.Tensor, channels: torch.Tensor,
                     batch_size: int = 256, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Guided backprop of ``channels[i]``'s spatial maximum in D's last conv layer for ``images[i]``.

    ``images``: uint8 or float in ``[-1, 1]``; ``labels`` are needed by conditional models only.
    Returns float32 gradients of the input's shape on the CPU. D runs in eval mode; no parameter
    gradient is accumulated.
    """
    device = model_device(model)
    out = []
    with eval_mode(model.discriminator):
        for i in range(0, images.shape[0], batch_size):
            chunk = images[i : i + batch_size]
            x = to_float(chunk, device) if chunk.dtype == torch.uint8 else chunk.to(device).float()
            x.requires_grad_(True)
            ch = channels[i : i + batch_size].to(device)
            y = labels[i : i + batch_size].to(device) if labels is not None else None
            with torch.enable_grad(), torch.jit.optimized_execution(False), GuidedBackprop() as mode:
                act = _last_layer(model, x, y)
                peak = act[torch.arange(act.shape[0], device=device), ch].flatten(1).amax(1)
                (grad,) = torch.autograd.grad(peak.sum(), x)
            if mode.calls == 0:
                raise OptionError(f"{type(model).__name__}'s discriminator calls no relu/leaky_relu, so "
                                  "guided backpropagation would be a plain gradient; use a model with "
                                  "(leaky) ReLU activations.")
            out.append(grad.detach().float().cpu())
    return torch.cat(out)


@torch.no_grad()
def _peaks(model: GANModel, images: torch.Tensor, labels: torch.Tensor | None, batch_size: int) -> torch.Tensor:
    """``(N, C)``: each channel's spatial maximum in D's last conv layer, per image."""
    device = model_device(model)
    out = []
    with eval_mode(model.discriminator):
        for i in range(0, images.shape[0], batch_size):
            y = labels[i : i + batch_size].to(device) if labels is not None else None
            act = _last_layer(model, to_float(images[i : i + batch_size], device), y)
            out.append(act.float().amax((2, 3)).cpu())
    return torch.cat(out)


def label_purity(labels: torch.Tensor) -> torch.Tensor:
    """``labels`` ``(channels, k)`` -> the share of each row taken by its most common label."""
    k = labels.shape[1]
    counts = torch.zeros(labels.shape[0], int(labels.max()) + 1, dtype=torch.long)
    counts.scatter_add_(1, labels.long(), torch.ones_like(labels, dtype=torch.long))
    return counts.amax(1).double() / k


def top_share(grads: torch.Tensor, fraction: float) -> torch.Tensor:
    """Share of ``|grad|`` (summed over colour channels) in the top ``fraction`` of pixels, per image."""
    mass = grads.abs().sum(1).flatten(1).double()
    k = max(1, math.ceil(fraction * mass.shape[1]))
    return mass.topk(k, dim=1).values.sum(1) / mass.sum(1).clamp_min(1e-30)


def bootstrap_ci(values: torch.Tensor, n_boot: int, gen: torch.Generator,
                 other: torch.Tensor | None = None) -> tuple[float, float]:
    """Percentile 95% interval of ``mean(values)`` (or of ``mean(values) - mean(other)``, each
    resampled independently) over ``n_boot`` bootstrap resamples."""
    def means(v: torch.Tensor) -> torch.Tensor:
        idx = torch.randint(0, v.numel(), (n_boot, v.numel()), generator=gen)
        return v.double().flatten()[idx].mean(1)

    stat = means(values) - (means(other) if other is not None else 0.0)
    lo, hi = torch.quantile(stat, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    return float(lo), float(hi)


def interval(lo: float, hi: float, prefix: str = "") -> dict[str, float]:
    """Row fields of a 95% interval: its bounds and its half-width (``ci95``, shown as +-)."""
    if prefix:
        return {f"{prefix}_ci95_low": lo, f"{prefix}_ci95_high": hi}
    return {"ci95": (hi - lo) / 2, "ci95_low": lo, "ci95_high": hi}


def _display(grads: torch.Tensor) -> torch.Tensor:
    """Guided gradients scaled per image into ``[-1, 1]`` for a PNG (zero -> mid grey)."""
    g = grads - grads.mean((1, 2, 3), keepdim=True)
    return (g / (3 * g.flatten(1).std(1).clamp_min(1e-12).view(-1, 1, 1, 1))).clamp(-1, 1)


class GuidedBackpropProbe:
    """Guided backprop of D's strongest last-layer channels, trained D against a random D."""

    def __init__(self, config: GuidedBackpropConfig | None = None) -> None:
        self.config = config or GuidedBackpropConfig()

    def _analyse(self, model: GANModel, images: torch.Tensor, labels: torch.Tensor | None,
                 path: Any) -> dict[str, Any]:
        cfg = self.config
        cond = labels if getattr(model, "num_classes", 0) else None  # a conditional D sees the labels
        peaks = _peaks(model, images, cond, cfg.batch_size)  # (N, C)
        k = min(cfg.top_k, peaks.shape[0])
        top_vals, top_idx = peaks.topk(k, dim=0)  # (k, C)
        order = top_vals.mean(0).argsort(descending=True)[: min(cfg.n_channels, peaks.shape[1])]
        pick = top_idx[:, order].t()  # (channels, k) image indices
        chans = order.view(-1, 1).expand_as(pick)
        grads = guided_gradients(model, images[pick.flatten()], chans.flatten(), cfg.batch_size,
                                 cond[pick.flatten()] if cond is not None else None)
        share = top_share(grads, cfg.top_share).view(pick.shape).mean(1)
        rows = min(cfg.grid_channels, pick.shape[0])
        figure = None
        if rows:
            real = to_float(images[pick[:rows].flatten()]).view(rows, k, *images.shape[1:])
            shown = _display(grads[: rows * k]).view(rows, k, *images.shape[1:])
            figure = str(save_image_grid(torch.cat([real, shown], 1).flatten(0, 1), path, nrow=2 * k))
        purity = label_purity(labels[pick]) if labels is not None else None
        return {"share": share, "purity": purity, "channels": order.tolist(), "k": k,
                "width": int(peaks.shape[1]), "figure": figure}

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        split = cfg.split or ctx.eval.test_split
        data = ctx.load_split(split)
        gen = torch.Generator().manual_seed(ctx.seed)
        idx = subset(len(data), cfg.n_images, gen)
        images = data.images[idx]
        if getattr(ctx.model, "num_classes", 0):
            labelled(data, split)  # a conditional D needs the labels: a clear error without them
        labels = data.labels[idx].long() if data.labels is not None else None
        found = {
            "trained": self._analyse(ctx.model, images, labels, ctx.out_dir / "guided-backprop-trained.png"),
            "random": self._analyse(ctx.make_random_model(ctx.seed), images, labels,
                                    ctx.out_dir / "guided-backprop-random.png"),
        }
        common = {"split": split, "n_images": int(images.shape[0]), "top_k": found["trained"]["k"],
                  "layer_width": found["trained"]["width"], "n_channels": len(found["trained"]["channels"])}
        rows = self._rows("top_share", "share", found, gen, {**common, "top_fraction": cfg.top_share,
                                                              "uniform_value": cfg.top_share})
        if labels is not None:
            chance = self._chance(labels, common["n_channels"], common["top_k"], gen)
            rows += self._rows("label_purity", "purity", found, gen, {**common, "chance": chance["value"]})
            rows.append({"metric": "label_purity", "variant": "chance", **chance, **common})
        return rows

    def _rows(self, metric: str, key: str, found: dict[str, dict[str, Any]], gen: torch.Generator,
              common: dict[str, Any]) -> list[dict[str, Any]]:
        n_boot = self.config.n_boot
        trained, random = found["trained"][key], found["random"][key]
        diff = float(trained.mean() - random.mean())
        out = []
        for variant, values in (("trained", trained), ("random", random)):
            row = {"metric": metric, "variant": variant, "value": float(values.mean()),
                   **interval(*bootstrap_ci(values, n_boot, gen)), **common,
                   "per_channel": [round(float(v), 6) for v in values],
                   "channels": found[variant]["channels"], "figure": found[variant]["figure"]}
            if variant == "trained":
                row.update({"minus_random": diff,
                            **interval(*bootstrap_ci(trained, n_boot, gen, other=random), prefix="minus_random")})
            out.append(row)
        return out

    def _chance(self, labels: torch.Tensor, n_channels: int, k: int, gen: torch.Generator) -> dict[str, Any]:
        """Purity of ``k`` images drawn at random, averaged over ``n_channels`` draws, resampled."""
        n_boot, total = self.config.n_boot, self.config.n_boot * n_channels
        chunk = max(1, (1 << 23) // labels.numel())  # rows of random keys per pass (~32 MB)
        purity = torch.cat([
            label_purity(labels[torch.rand(min(chunk, total - i), labels.numel(), generator=gen).argsort(1)[:, :k]])
            for i in range(0, total, chunk)])
        means = purity.view(n_boot, n_channels).mean(1)
        lo, hi = torch.quantile(means, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
        return {"value": float(means.mean()), **interval(lo, hi)}
