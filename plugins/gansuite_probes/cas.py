"""The ``cas`` probe: classification accuracy score of a class-conditional generator.

A small CNN is trained on the real labelled training split (fixed seed, fixed order, so every
run, model and seed gets the same classifier), then asked to classify generated samples
``G(z, y)`` drawn with class-balanced ``y``: the score is the fraction classified as their
conditioning class (Ravuri & Vinyals 2019 train on generated data and test on real; this is the
cheaper direction, the "GAN-test" of Shmelkov et al. 2018). Beside it: the same classifier on real
test images (the ceiling: what a perfect generator of the data would score) and on samples of a
randomly initialised G of the same architecture (the floor, about 1/K).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gansuite import GANModel, OptionError, ProbeContext, save_image_grid
from gansuite_probes.common import (
    TensorCache,
    Timer,
    balanced_labels,
    content_key,
    eval_mode,
    generate,
    to_float,
)
from gansuite_probes.config import CASConfig
from gansuite_probes.svm import labelled, subset

__all__ = ["CASProbe", "build", "SmallCNN", "train_classifier", "predict", "binomial_ci95"]


def build(config: CASConfig) -> CASProbe:
    """Factory registered for the ``cas`` probe."""
    return CASProbe(config)


class SmallCNN(nn.Module):
    """Three 3x3 conv blocks (BatchNorm, ReLU; max-pooling after the first two), global average
    pooling, a linear classifier."""

    def __init__(self, channels: int, num_classes: int, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for i, c_out in enumerate((width, 2 * width, 4 * width)):
            layers += [nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
            if i < 2:
                layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean(dim=(2, 3)))


def train_classifier(images: torch.Tensor, labels: torch.Tensor, num_classes: int, cfg: CASConfig,
                     device: Any) -> SmallCNN:
    """Adam on cross-entropy, ``cfg.epochs`` passes in an order fixed by ``cfg.classifier_seed``
    (initialisation too); leaves the global RNG untouched."""
    gen = torch.Generator().manual_seed(cfg.classifier_seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.classifier_seed)
        net = SmallCNN(int(images.shape[1]), num_classes, cfg.width).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    n = int(images.shape[0])
    net.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            if idx.numel() < 2:  # BatchNorm needs two images
                continue
            x = to_float(images[idx], device)
            loss = F.cross_entropy(net(x), labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def predict(net: nn.Module, images: torch.Tensor, device: Any, batch_size: int = 500) -> torch.Tensor:
    """Predicted classes of uint8 or float ``[-1, 1]`` images (CPU int64)."""
    out = []
    with eval_mode(net):
        for i in range(0, int(images.shape[0]), batch_size):
            chunk = images[i : i + batch_size]
            x = to_float(chunk, device) if chunk.dtype == torch.uint8 else chunk.to(device).float()
            out.append(net(x).argmax(1).cpu())
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def binomial_ci95(p: float, n: int) -> float:
    """Half-width of the normal-approximation 95% interval of a proportion ``p`` over ``n`` trials."""
    return 1.96 * math.sqrt(max(p * (1 - p), 0.0) / n) if n else float("nan")


class CASProbe:
    """Accuracy of a real-data classifier on G(z, y) against y; ceiling and floor beside it."""

    def __init__(self, config: CASConfig | None = None) -> None:
        self.config = config or CASConfig()

    def check_model(self, model: GANModel) -> None:
        """Refuse an unconditional model before any training or evaluation is spent."""
        if not model.num_classes:
            raise OptionError("The cas probe scores class-conditional generation, and this model is "
                              "unconditional (num_classes = 0); evaluate a conditional model such as "
                              "sngan-projection, or drop the cas eval.")

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        self.check_model(ctx.model)
        train, test = ctx.load_split(ctx.eval.train_split), ctx.load_split(ctx.eval.test_split)
        y_train, y_test = labelled(train, ctx.eval.train_split), labelled(test, ctx.eval.test_split)
        k = max(len(train.classes), int(y_train.max()) + 1)
        if ctx.model.num_classes > k:
            raise OptionError(f"The model conditions on {ctx.model.num_classes} classes but the eval's "
                              f"dataset has {k}; evaluate it on the dataset it was trained on.")
        gen = torch.Generator().manual_seed(cfg.classifier_seed)
        idx = subset(len(train), cfg.n_train, gen)
        with Timer(ctx.device) as t_fit:
            net = self._classifier(train.images[idx], y_train[idx], k, ctx.device)
        t_idx = subset(len(test), cfg.max_test, torch.Generator().manual_seed(ctx.seed)).sort().values
        test_acc = float((predict(net, test.images[t_idx], ctx.device) == y_test[t_idx]).double().mean())
        common = {"chance": 1.0 / ctx.model.num_classes, "n_classes": k, "n_classifier_train": int(idx.numel()),
                  "classifier": f"SmallCNN(width={cfg.width}), {cfg.epochs} epochs",
                  "time_classifier_s": round(t_fit.seconds, 2)}
        rows = [{"metric": "cas", "variant": "real-test", "value": test_acc,
                 "ci95": binomial_ci95(test_acc, int(t_idx.numel())), "n": int(t_idx.numel()), **common}]
        variants: list[tuple[str, Any]] = [("trained", lambda: ctx.model)]
        if cfg.random_control:
            variants.append(("random", lambda: ctx.make_random_model(ctx.seed)))
        for variant, make in variants:
            rows.append({"variant": variant, **self._score(make(), net, ctx, variant), **common})
        return rows

    def _classifier(self, images: torch.Tensor, labels: torch.Tensor, k: int, device: Any) -> SmallCNN:
        """The trained classifier, from ``cache_dir`` when these images, labels and settings
        trained one before."""
        cfg = self.config
        key = content_key(images, labels, k, cfg.epochs, cfg.width, cfg.lr, cfg.batch_size, cfg.classifier_seed)

        def fit() -> dict[str, torch.Tensor]:
            net = train_classifier(images, labels, k, cfg, device)
            return {name: t.detach().cpu() for name, t in net.state_dict().items()}

        net = SmallCNN(int(images.shape[1]), k, cfg.width)
        net.load_state_dict(TensorCache(cfg.cache_dir, "cas-classifier").get_or_compute(key, fit))
        return net.to(device).eval()

    def _score(self, model: GANModel, net: nn.Module, ctx: ProbeContext, variant: str) -> dict[str, Any]:
        cfg = self.config
        gen = torch.Generator().manual_seed(ctx.seed)
        z = model.sample_z(cfg.n_samples, generator=gen).to(ctx.device)
        y = balanced_labels(ctx.model, cfg.n_samples, ctx.device)  # the classes asked for
        assert y is not None  # run() checked ctx.model is conditional
        x = generate(model, z, cfg.batch_size, labels=y if model.num_classes else None)
        pred = predict(net, x, ctx.device, cfg.batch_size)
        hit = (pred == y.cpu()).double()
        acc = float(hit.mean())
        k = ctx.model.num_classes
        per_class = [round(float(hit[y.cpu() == c].mean()), 4) for c in range(k)]
        row = {"metric": "cas", "value": acc, "ci95": binomial_ci95(acc, cfg.n_samples), "n": cfg.n_samples,
               "per_class": per_class,
               "predicted_classes": torch.bincount(pred, minlength=k).tolist()}
        if variant == "trained":
            per_row = max(1, min(10, cfg.n_samples // k))
            order = torch.cat([torch.nonzero(y.cpu() == c).flatten()[:per_row] for c in range(k)])
            row["figure"] = str(save_image_grid(x[order.to(x.device)], ctx.out_dir / "cas-samples.png", nrow=per_row))
        return row
