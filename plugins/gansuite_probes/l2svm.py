"""A full-batch L2-SVM (squared hinge, one-vs-rest) solved with L-BFGS in torch.

The objective per class ``k`` is scikit-learn ``LinearSVC``'s (``loss="squared_hinge"``, L2
penalty), with an unpenalised intercept:

    0.5 * |w_k|^2 + C * sum_i max(0, 1 - y_ik (x_i . w_k + b_k))^2,   y_ik = +1 if label_i == k else -1

divided by ``C * n`` so its scale does not depend on the data size (``penalize_intercept=True``
adds ``0.5 * b_k^2`` as LinearSVC does with ``intercept_scaling=1``). All classes are solved in
one L-BFGS run (the problem is separable, so the optimum is the same). The gradient is written
by hand: autograd's backward for ``X @ W`` computes ``X.t() @ dS``, measured several times slower
on CPU than the equivalent ``(dS.t() @ X).t()`` used here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

__all__ = ["SVMFit", "Standardizer", "RowSpan", "fit_l2svm", "one_vs_rest_targets", "accuracy"]


@dataclass
class SVMFit:
    """A fitted one-vs-rest linear SVM and how the fit went."""

    weight: torch.Tensor  # (features, classes)
    bias: torch.Tensor  # (classes,)
    C: float
    iterations: int
    evaluations: int
    objective: float  # the scaled objective (LinearSVC's divided by C * n)
    seconds: float
    gradient: float = float("nan")  # largest gradient entry at the end, relative to its value at zero
    converged: bool = True  # the gradient criterion was met: gradient <= target
    target: float = float("nan")  # the relative gradient the fit had to reach (its tol)
    stop: str = "gradient"  # why it stopped: "gradient", "iteration cap" or "stalled" (see fit_l2svm)

    def note(self) -> str:
        """What a table prints for a fit that stopped before the gradient criterion ("" if met)."""
        if self.converged:
            return ""
        return f"fit stopped ({self.stop}) at gradient {self.gradient:.2g} > target {self.target:.2g}"

    def scores(self, X: torch.Tensor) -> torch.Tensor:
        """Decision values ``(n, classes)``."""
        return torch.addmm(self.bias, X, self.weight)

    def predict(self, X: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
        """Class indices ``(n,)`` (argmax of the one-vs-rest scores)."""
        with _threads_for(X):
            return torch.cat([self.scores(X[i : i + batch_size]).argmax(1)
                              for i in range(0, X.shape[0], batch_size)])


class Standardizer:
    """Per-feature mean and standard deviation of a training matrix, applied in place."""

    def __init__(self, X: torch.Tensor, eps: float = 1e-6, chunk: int = 8192) -> None:
        total = torch.zeros(X.shape[1], dtype=torch.float64, device=X.device)
        sq = torch.zeros_like(total)
        for i in range(0, X.shape[0], chunk):
            part = X[i : i + chunk].double()
            total += part.sum(0)
            sq += part.square().sum(0)
        n = max(int(X.shape[0]), 1)
        mean = total / n
        var = (sq / n - mean.square()).clamp_min(0)
        self.mean = mean.float()
        self.scale = var.sqrt().clamp_min(eps).float()

    def apply_(self, X: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
        """Standardise ``X`` in place (chunked, so no second copy of a large matrix)."""
        for i in range(0, X.shape[0], chunk):
            X[i : i + chunk].sub_(self.mean).div_(self.scale)
        return X


def one_vs_rest_targets(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(n, classes)`` matrix of +1 (the sample's class) and -1 (every other class)."""
    Y = torch.full((labels.shape[0], num_classes), -1.0, device=labels.device)
    Y[torch.arange(labels.shape[0], device=labels.device), labels.long()] = 1.0
    return Y


def accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of correct predictions, as a Python float."""
    return float((pred.cpu() == labels.cpu()).double().mean()) if labels.numel() else float("nan")


SMALL_PROBLEM = 1 << 25  # feature-matrix entries below which a CPU fit runs on one thread
# Feature-matrix entries up to which a fit runs in float64: such problems are cheap, and float32
# rounding can stall L-BFGS short of the gradient target (larger fits stay float32 and report it).
FLOAT64_PROBLEM = 1 << 24


@contextlib.contextmanager
def _threads_for(X: torch.Tensor) -> Iterator[None]:
    """One CPU thread for small problems: their many tiny parallel regions gain little from
    threads and, on a busy machine, wait on descheduled ones (two threads on two loaded cores were
    many times slower at 2,000 x 7,168)."""
    if X.device.type != "cpu" or X.numel() >= SMALL_PROBLEM or torch.get_num_threads() == 1:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Objective:
    """The scaled squared-hinge objective with its hand-written gradient."""

    def __init__(self, X: torch.Tensor, Y: torch.Tensor, C: float, penalize_intercept: bool = False) -> None:
        self.X, self.Y = X, Y
        self.n = int(X.shape[0])
        self.reg = 1.0 / (C * self.n)
        self.reg_b = self.reg if penalize_intercept else 0.0
        self.evaluations = 0

    def __call__(self, W: torch.Tensor, b: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
        self.evaluations += 1
        S = torch.addmm(b, self.X, W)
        A = (1.0 - self.Y * S).clamp_min_(0.0)
        loss = 0.5 * (self.reg * W.square().sum() + self.reg_b * b.square().sum()) + A.square().sum() / self.n
        dS = A.mul_(self.Y).mul_(-2.0 / self.n)
        grad_w = (dS.t() @ self.X).t().contiguous().add_(W, alpha=self.reg)
        return float(loss), grad_w, dS.sum(0).add_(b, alpha=self.reg_b)

    def gradient_scale(self) -> float:
        """The largest gradient entry at ``W = 0, b = 0`` (the scale the tolerance is relative to)."""
        gw = (self.Y.t() @ self.X).mul_(-2.0 / self.n)
        gb = self.Y.sum(0).mul_(-2.0 / self.n)
        return float(torch.maximum(gw.abs().max(), gb.abs().max()))


def fit_l2svm(
    X: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    C: float,
    *,
    max_iter: int = 2000,
    tol: float = 1e-4,
    init: SVMFit | None = None,
    penalize_intercept: bool = False,
    span: RowSpan | None = None,
) -> SVMFit:
    """Fit a one-vs-rest L2-SVM on ``X`` (float32, standardised) with L-BFGS, to convergence.

    Stops when the largest gradient entry falls below ``tol`` times its value at the zero
    solution (a target that does not depend on ``init``, so a warm start converges to the same
    point), when L-BFGS can make no more progress (the objective stops changing, or the line
    search fails), or after ``max_iter`` iterations (a safety cap). Only the first counts as
    ``converged``; ``stop`` says which ("gradient", "stalled", "iteration cap") and ``gradient`` /
    ``target`` how far the fit got. ``init`` warm-starts from another fit (e.g. the previous C of a
    grid).

    With at most half as many rows as features (few-label fits), the problem is solved exactly in
    the span of the rows (:class:`RowSpan`; pass ``span`` to reuse one for several fits on ``X``),
    in float64; so is any fit of at most :data:`FLOAT64_PROBLEM` entries (float32 rounding can
    stall L-BFGS short of the gradient target; a larger fit stays float32 and says so).
    """
    if X.shape[0] != labels.shape[0]:
        raise ValueError(f"{X.shape[0]} feature rows but {labels.shape[0]} labels")
    if span is None and RowSpan.worth(X):
        span = RowSpan(X)
    if span is None:
        if X.numel() <= FLOAT64_PROBLEM and X.dtype == torch.float32:
            fit = _fit(X.double(), labels, num_classes, C, max_iter, tol, init, penalize_intercept)
            fit.weight, fit.bias = fit.weight.float(), fit.bias.float()
            return fit
        return _fit(X, labels, num_classes, C, max_iter, tol, init, penalize_intercept)
    start = time.perf_counter()
    fit = _fit(span.X, labels, num_classes, C, max_iter, tol, span.down(init), penalize_intercept)
    fit.weight = span.Q @ fit.weight.to(span.Q.dtype)
    fit.bias = fit.bias.to(X.dtype)
    fit.seconds = time.perf_counter() - start
    return fit


class RowSpan:
    """``X = Xr @ Q.T`` with ``Q`` (features, n) orthonormal, from the QR decomposition of ``X.T``.

    An L2-SVM's optimal ``w`` lies in the span of the rows (the penalty only grows outside it), so
    a fit on the square ``Xr`` with ``w = Q v`` is exact. Compute it once for many fits on one ``X``.
    """

    def __init__(self, X: torch.Tensor) -> None:
        with _threads_for(X):  # a threaded QR of a tall matrix crawled on loaded cores (2 s vs 0.04 s)
            Q, R = torch.linalg.qr(X.t())
        self.Q, self.X = Q, R.t().contiguous().double()

    @staticmethod
    def worth(X: torch.Tensor) -> bool:
        """Whether ``X`` has at most half as many rows as features."""
        return 2 * X.shape[0] <= X.shape[1]

    def down(self, fit: SVMFit | None) -> SVMFit | None:
        """A fit in all features -> the same fit's coordinates in the span (for a warm start)."""
        if fit is None:
            return None
        return SVMFit((self.Q.t() @ fit.weight.to(self.Q.dtype)).double(), fit.bias.double(), fit.C, 0, 0,
                      fit.objective, 0.0)


def _fit(X: torch.Tensor, labels: torch.Tensor, num_classes: int, C: float, max_iter: int, tol: float,
         init: SVMFit | None, penalize_intercept: bool) -> SVMFit:
    start = time.perf_counter()
    Y = one_vs_rest_targets(labels.to(X.device), num_classes).to(X.dtype)
    W = (init.weight.to(X.dtype, copy=True) if init is not None else torch.zeros(X.shape[1], num_classes, dtype=X.dtype,
                                                                     device=X.device))
    b = init.bias.to(X.dtype, copy=True) if init is not None else torch.zeros(num_classes, dtype=X.dtype, device=X.device)
    objective = _Objective(X, Y, C, penalize_intercept)
    last = [0.0, 0.0]

    def closure() -> float:
        loss, gw, gb = objective(W, b)
        W.grad, b.grad = gw, gb
        last[0], last[1] = loss, float(torch.maximum(gw.abs().max(), gb.abs().max()))
        return loss

    with torch.no_grad(), _threads_for(X):
        scale = objective.gradient_scale()
        target = tol * scale
        opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, max_eval=max_iter * 2,
                                tolerance_grad=target, tolerance_change=1e-12, history_size=20,
                                line_search_fn="strong_wolfe")
        opt.step(closure)  # type: ignore[arg-type]
    state = opt.state[opt.param_groups[0]["params"][0]]
    if X.device.type == "cuda":
        torch.cuda.synchronize(X.device)
    iterations = int(state.get("n_iter", 0))
    met = last[1] <= target
    stop = "gradient" if met else ("iteration cap" if iterations >= max_iter else "stalled")
    return SVMFit(weight=W.detach(), bias=b.detach(), C=C, iterations=iterations,
                  evaluations=objective.evaluations, objective=last[0],
                  seconds=time.perf_counter() - start, gradient=last[1] / max(scale, 1e-30),
                  converged=met, target=tol, stop=stop)
