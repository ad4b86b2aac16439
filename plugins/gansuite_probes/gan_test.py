"""The ``gan-test`` probe (Shmelkov, Schmid & Alahari 2018): a real-data classifier on G(z, y).

A classifier is trained on the real labelled training split (a small CNN with a fixed seed and
order, or a softmax regression on Inception pool3 features; either way every run, model and seed
gets the same classifier), then asked to classify generated samples ``G(z, y)`` drawn with
class-balanced ``y``: the score is the fraction classified as their conditioning class. Beside
it: the same classifier on real test images (the ceiling: what a perfect generator of the data
would score), on samples of a randomly initialised G of the same architecture (the floor, about
1/K), and the trained G's paired lead over the random G (same z and labels; bootstrap over
samples). This was once registered as ``cas``; the Classification Accuracy Score of Ravuri &
Vinyals 2019 (train on generated, test on real) is the ``cas-score`` probe.
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
from gansuite_probes.config import GANTestConfig
from gansuite_probes.resampling import paired_gain
from gansuite_probes.svm import labelled, subset

__all__ = ["GANTestProbe", "build", "build_deprecated_cas", "labelled_splits", "sample_classes", "SmallCNN", "train_classifier", "predict",
           "binomial_ci95", "real_classifier"]


def build(config: GANTestConfig) -> GANTestProbe:
    """Factory registered for the ``gan-test`` probe."""
    return GANTestProbe(config)


def build_deprecated_cas(config: GANTestConfig) -> GANTestProbe:
    """Factory of the deprecated probe name ``cas`` (the same probe as ``gan-test``)."""
    import warnings

    warnings.warn("The 'cas' probe and the '*-cas' evals are GAN-test (Shmelkov et al. 2018) and are now named "
                  "'gan-test' / '*-gan-test'; the old names will be removed. The Classification Accuracy Score "
                  "(train on generated, test on real) is 'cas-score' / '*-cas-score'.", FutureWarning, stacklevel=2)
    return GANTestProbe(config)


def labelled_splits(ctx: ProbeContext) -> tuple[Any, Any, torch.Tensor, torch.Tensor, int]:
    """The eval's train and test splits, their labels and the class count; refused in one line
    when the model conditions on more classes than the dataset has."""
    train, test = ctx.load_split(ctx.eval.train_split), ctx.load_split(ctx.eval.test_split)
    y_train, y_test = labelled(train, ctx.eval.train_split), labelled(test, ctx.eval.test_split)
    k = max(len(train.classes), int(y_train.max()) + 1)
    if ctx.model.num_classes > k:
        raise OptionError(f"The model conditions on {ctx.model.num_classes} classes but the eval's "
                          f"dataset has {k}; evaluate it on the dataset it was trained on.")
    return train, test, y_train, y_test, k


def sample_classes(model: GANModel, z: torch.Tensor, n: int, device: Any) -> torch.Tensor:
    """The class each of ``n`` samples from ``z`` is scored against: the model's own
    ``labels_of(z)`` where its samples carry their class (a labelled folder of samples), else
    class-balanced conditioning labels."""
    own = getattr(model, "labels_of", None)
    y = own(z) if callable(own) else None
    if y is None:
        y = balanced_labels(model, n, device)
    assert y is not None  # the probe checked that the model is conditional
    return y.to(device)


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


def train_classifier(images: torch.Tensor, labels: torch.Tensor, num_classes: int, cfg: Any,
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
            chunk = images[idx]
            x = to_float(chunk, device) if chunk.dtype == torch.uint8 else chunk.to(device).float()
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


def check_conditional(model: GANModel, probe: str) -> None:
    """Refuse an unconditional model before any training or evaluation is spent."""
    if not model.num_classes:
        raise OptionError(f"The {probe} probe scores class-conditional generation, and this model is "
                          "unconditional (num_classes = 0); evaluate a conditional model such as "
                          f"sngan-projection, or drop the {probe} eval.")


class _Classifier:
    """What both probes need of a classifier: ``predict(images)`` and a description."""

    def __init__(self, predict_fn: Any, info: dict[str, Any]) -> None:
        self.predict, self.info = predict_fn, info


def real_classifier(images: torch.Tensor, labels: torch.Tensor, k: int, cfg: Any, device: Any) -> _Classifier:
    """The configured classifier trained on ``images`` (uint8 real, or float [-1, 1] generated):
    ``cnn`` (SmallCNN, ``cfg.epochs`` passes) or ``inception-linear``."""
    if cfg.classifier == "inception-linear":
        from gansuite_probes.classifiers import fit_inception_linear

        clf = fit_inception_linear(images, labels, k, device=device, batch_size=cfg.batch_size)
        return _Classifier(clf.predict, clf.describe())
    net = train_classifier(images, labels, k, cfg, device)
    return _Classifier(lambda x: predict(net, x, device, cfg.batch_size),
                       {"classifier": f"SmallCNN(width={cfg.width}), {cfg.epochs} epochs"})


class GANTestProbe:
    """Accuracy of a real-data classifier on G(z, y) against y; ceiling and floor beside it."""

    name = "gan-test"

    def __init__(self, config: GANTestConfig | None = None) -> None:
        self.config = config or GANTestConfig()

    def check_model(self, model: GANModel) -> None:
        """Refuse an unconditional model before any training or evaluation is spent."""
        check_conditional(model, self.name)

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        cfg = self.config
        self.check_model(ctx.model)
        train, test, y_train, y_test, k = labelled_splits(ctx)
        gen = torch.Generator().manual_seed(cfg.classifier_seed)
        idx = subset(len(train), cfg.n_train, gen)
        with Timer(ctx.device) as t_fit:
            clf = self._classifier(train.images[idx], y_train[idx], k, ctx.device)
        t_idx = subset(len(test), cfg.max_test, torch.Generator().manual_seed(ctx.seed)).sort().values
        test_acc = float((clf.predict(test.images[t_idx]) == y_test[t_idx]).double().mean())
        n_test = int(t_idx.numel())
        common = {"chance": 1.0 / ctx.model.num_classes, "n_classes": k, "n_classifier_train": int(idx.numel()),
                  **clf.info, "time_classifier_s": round(t_fit.seconds, 2)}
        rows = [{"metric": "gan_test", "variant": "real-test", "value": test_acc,
                 "ci95": binomial_ci95(test_acc, n_test), "n": n_test,
                 "ci_method": f"binomial (normal approximation) over {n_test:,} real test images",
                 "classifier_real_accuracy": test_acc, **common}]
        variants: list[tuple[str, Any]] = [("trained", lambda: ctx.model)]
        if cfg.random_control:
            variants.append(("random", lambda: ctx.make_random_model(ctx.seed)))
        hits = []
        for variant, make in variants:
            row, hit = self._score(make(), clf, ctx, variant)
            rows.append({"variant": variant, **row, **common, "classifier_real_accuracy": test_acc})
            hits.append(hit)
        if len(hits) == 2:
            gain = paired_gain(hits[0], hits[1], seed=ctx.seed,
                               unit="generated samples (the same z and label for both G)")
            rows.append({"metric": "gan_test_gain_over_random", "variant": "trained-random", **gain, **common,
                         "better": "higher (0: G's samples no more recognisable than a random G's)"})
        return rows

    def _classifier(self, images: torch.Tensor, labels: torch.Tensor, k: int, device: Any) -> _Classifier:
        """The trained classifier; a CNN comes from ``cache_dir`` when these images, labels and
        settings trained one before."""
        cfg = self.config
        if cfg.classifier != "cnn":
            return real_classifier(images, labels, k, cfg, device)
        key = content_key(images, labels, k, cfg.epochs, cfg.width, cfg.lr, cfg.batch_size, cfg.classifier_seed)

        def fit() -> dict[str, torch.Tensor]:
            net = train_classifier(images, labels, k, cfg, device)
            return {name: t.detach().cpu() for name, t in net.state_dict().items()}

        net = SmallCNN(int(images.shape[1]), k, cfg.width)
        net.load_state_dict(TensorCache(cfg.cache_dir, "gan-test-classifier").get_or_compute(key, fit))
        net = net.to(device).eval()
        return _Classifier(lambda x: predict(net, x, device, cfg.batch_size),
                           {"classifier": f"SmallCNN(width={cfg.width}), {cfg.epochs} epochs"})

    def _score(self, model: GANModel, clf: _Classifier, ctx: ProbeContext, variant: str
               ) -> tuple[dict[str, Any], torch.Tensor]:
        cfg = self.config
        gen = torch.Generator().manual_seed(ctx.seed)
        z = model.sample_z(cfg.n_samples, generator=gen).to(ctx.device)
        y = sample_classes(ctx.model, z, cfg.n_samples, ctx.device)  # the classes asked for (or carried)
        x = generate(model, z, cfg.batch_size, labels=y if model.num_classes else None)
        pred = clf.predict(x)
        hit = (pred == y.cpu()).double()
        acc = float(hit.mean())
        k = ctx.model.num_classes
        per_class = [round(float(hit[y.cpu() == c].mean()), 4) if bool((y.cpu() == c).any()) else None
                     for c in range(k)]
        row = {"metric": "gan_test", "value": acc, "ci95": binomial_ci95(acc, cfg.n_samples), "n": cfg.n_samples,
               "ci_method": f"binomial (normal approximation) over {cfg.n_samples:,} generated samples",
               "per_class": per_class, "predicted_classes": torch.bincount(pred, minlength=k).tolist()}
        if variant == "trained":
            per_row = max(1, min(10, cfg.n_samples // k))
            order = torch.cat([torch.nonzero(y.cpu() == c).flatten()[:per_row] for c in range(k)])
            row["figure"] = str(save_image_grid(x[order.to(x.device)], ctx.out_dir / "gan-test-samples.png",
                                                nrow=per_row))
        return row, hit
