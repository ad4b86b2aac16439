"""The classifiers gan-test and cas-score judge with, and the softmax regression behind them.

- :func:`fit_logistic`: multinomial logistic regression by L-BFGS to a gradient target, saying
  whether it met it (:class:`LogisticFit`); also used by the forgetting probe.
- :class:`InceptionLinear` (``classifier="inception-linear"``): a softmax regression on the
  Inception pool3 features the fid/kid/prdc probes use (standardised on its training images).
  It needs the ``fid`` extra (the bundled network); ``benchmarks/real_classifier.py`` measures
  its accuracy on real test images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from gansuite_probes.l2svm import Standardizer

__all__ = ["LogisticFit", "fit_logistic", "InceptionLinear", "fit_inception_linear"]


@dataclass
class LogisticFit:
    """A softmax regression and how its fit ended (``W, b = fit`` unpacks the weights)."""

    weight: torch.Tensor
    bias: torch.Tensor
    iterations: int
    gradient: float  # largest gradient entry at the end, relative to its value at W = 0
    target: float
    converged: bool

    def __iter__(self) -> Any:
        return iter((self.weight, self.bias))

    def fields(self, prefix: str) -> dict[str, Any]:
        return {f"{prefix}_converged": self.converged, f"{prefix}_gradient": self.gradient,
                f"{prefix}_iterations": self.iterations}


def fit_logistic(X: torch.Tensor, targets: torch.Tensor, l2: float, max_iter: int = 500,
                 tol: float = 1e-4) -> LogisticFit:
    """Softmax regression on ``X`` against probability rows ``targets`` ``(n, K)`` (one-hot or soft).

    Minimises mean cross-entropy + ``0.5 * l2 * |W|^2`` (intercept unpenalised) with L-BFGS until
    the largest gradient entry is below ``tol`` times its value at ``W = 0`` (``converged``) or
    after ``max_iter`` iterations. Unpacks to ``W`` ``(features, K)`` and ``b`` ``(K,)``.
    """
    W = torch.zeros(X.shape[1], targets.shape[1], device=X.device, dtype=X.dtype, requires_grad=True)
    b = torch.zeros(targets.shape[1], device=X.device, dtype=X.dtype, requires_grad=True)
    targets = targets.to(X.dtype)

    def loss_fn() -> torch.Tensor:
        return -(targets * F.log_softmax(torch.addmm(b, X, W), 1)).sum(1).mean() + 0.5 * l2 * W.square().sum()

    def largest_gradient() -> float:
        with torch.enable_grad():
            gw, gb = torch.autograd.grad(loss_fn(), [W, b])
        return float(torch.maximum(gw.abs().max(), gb.abs().max()))

    scale = max(largest_gradient(), 1e-30)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, history_size=20, tolerance_grad=tol * scale,
                            tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)  # type: ignore[arg-type]
    gradient = largest_gradient() / scale
    iterations = int(opt.state[opt.param_groups[0]["params"][0]].get("n_iter", 0))
    return LogisticFit(W.detach(), b.detach(), iterations, gradient, tol, gradient <= tol)


class InceptionLinear:
    """Images (uint8, or float in [-1, 1]) -> classes: a softmax regression on Inception pool3."""

    def __init__(self, extractor: Any, scaler: Standardizer, fit: LogisticFit, l2: float, batch_size: int,
                 n_train: int) -> None:
        self.extractor, self.scaler, self.fit, self.l2 = extractor, scaler, fit, l2
        self.batch_size, self.n_train = batch_size, n_train

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return features(self.extractor, images, self.batch_size)

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        X = self.scaler.apply_(self.features(images).double())
        return torch.addmm(self.fit.bias, X, self.fit.weight).argmax(1).cpu()

    def describe(self) -> dict[str, Any]:
        return {"classifier": f"softmax regression (l2={self.l2:g}) on Inception pool3 features",
                "classifier_n_train": self.n_train, **self.fit.fields("classifier"),
                **{k: v for k, v in self.extractor.describe().items() if k in ("extractor", "extractor_sha256")}}


@torch.no_grad()
def features(extractor: Any, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Extractor features of uint8 or ``[-1, 1]`` float images, batched."""
    from gansuite_probes.common import to_uint8

    out = []
    for i in range(0, int(images.shape[0]), batch_size):
        chunk = images[i : i + batch_size]
        out.append(extractor(chunk if chunk.dtype == torch.uint8 else to_uint8(chunk)).float())
    return torch.cat(out)


def fit_inception_linear(images: torch.Tensor, labels: torch.Tensor, num_classes: int, *, device: Any,
                         l2: float = 1e-3, batch_size: int = 250, extractor: Any = None,
                         max_iter: int = 1000) -> InceptionLinear:
    """Fit :class:`InceptionLinear` on labelled images (``extractor``: the bundled Inception by default)."""
    if extractor is None:
        from gansuite_probes.inception import InceptionFeatures

        extractor = InceptionFeatures().to(device)
    X = features(extractor, images, batch_size).double()
    scaler = Standardizer(X)
    scaler.mean, scaler.scale = scaler.mean.double(), scaler.scale.double()
    scaler.apply_(X)
    fit = fit_logistic(X, F.one_hot(labels.to(X.device).long(), num_classes).double(), l2, max_iter)
    return InceptionLinear(extractor, scaler, fit, l2, batch_size, int(images.shape[0]))
