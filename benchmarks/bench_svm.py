"""The svm probe's torch L2-SVM solver against scikit-learn's primal LinearSVC, on real D features.

Features: a randomly initialised DCGAN discriminator at 32x32 with 64-128-256 channels (7,168
probe features, as in the authors' SVHN script), max-pooled and standardised as the probe does,
on CIFAR-10 training images when ``GANSUITE_BENCH_CIFAR`` names the data root, else on the
embedded digits (1,437 images: the row count is capped there).

Rows: ``GANSUITE_BENCH_SVM_ROWS`` (default 2,000; the paper-size pass is 50,000 and needs
``GANSUITE_BENCH_CIFAR``). Both solvers fit the same objective (LinearSVC's: squared hinge,
one-vs-rest, penalised intercept, C = ``GANSUITE_BENCH_SVM_C``, default 1e-3) at their default
tolerances: LinearSVC(dual=False) -- the primal trust-region Newton solver scikit-learn recommends
when samples outnumber features -- and the probe's L-BFGS (on the GPU when there is one). The
test asserts the torch fit is at the optimum (objective within 1% of LinearSVC's, predictions
agreeing on >= 99% of test images) and records the speed ratio (LinearSVC seconds / torch
seconds, both measured in this run) in ``extra_info``, with the torch fit's time per objective
evaluation and achieved GFLOP/s (the profile that bounds the ratio on a small CPU).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gansuite._host.manager import get_catalog
from gansuite._host.options import build_config

FEATURE_DIM = 7_168
MIN_AGREEMENT = 0.99
MAX_OBJECTIVE_GAP = 0.01
TARGET_SPEEDUP = 5.0


def _dcgan_7168() -> Any:
    """A randomly initialised DCGAN at 32x32 with 64-128-256 channels: 7,168 probe features."""
    spec = get_catalog().registry("models").get("dcgan")
    torch.manual_seed(0)
    config = build_config(spec, {"ndf": 64, "ngf": 64, "kernel_size": 4, "image_size": 32})
    return spec.load_factory()(config, image_size=32, channels=3)


def _images(n_train: int, n_test: int) -> tuple[str, tuple[Any, Any], tuple[Any, Any]]:
    catalog = get_catalog()
    cifar_root = os.environ.get("GANSUITE_BENCH_CIFAR")
    name, root = ("cifar10", Path(cifar_root)) if cifar_root else ("digits", Path("."))
    spec = catalog.registry("datasets").get(name)
    dataset = spec.load_factory()(build_config(spec, {}), root=root)
    train, test = dataset.load("train", image_size=32), dataset.load("test", image_size=32)
    gen = torch.Generator().manual_seed(0)
    tr = torch.randperm(len(train), generator=gen)[:n_train]
    te = torch.randperm(len(test), generator=gen)[:n_test]
    return name, (train.images[tr], train.labels[tr]), (test.images[te], test.labels[te])


def linearsvc_objective(X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray, C: float) -> float:
    """LinearSVC's primal objective summed over the one-vs-rest classes (float64, chunked)."""
    total = 0.5 * (float(np.square(W).sum()) + float(np.square(b).sum()))
    for i in range(0, X.shape[0], 4096):
        S = X[i : i + 4096].astype(np.float64) @ W + b
        Y = -np.ones_like(S)
        Y[np.arange(S.shape[0]), y[i : i + 4096]] = 1.0
        total += C * float(np.square(np.clip(1.0 - Y * S, 0.0, None)).sum())
    return total


def _features(rows: int) -> tuple[str, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from gansuite_probes.common import extract_features
    from gansuite_probes.l2svm import Standardizer

    name, (x_tr, y_tr), (x_te, y_te) = _images(rows, 2000)
    model = _dcgan_7168()
    X_tr, X_te = extract_features(model, x_tr), extract_features(model, x_te)
    assert X_tr.shape[1] == FEATURE_DIM
    scaler = Standardizer(X_tr)
    scaler.apply_(X_tr)
    scaler.apply_(X_te)
    return name, X_tr, y_tr, X_te, y_te


def test_solver_matches_primal_linearsvc(benchmark: Any) -> None:
    """Same features, same C, same objective: objective and predictions of the torch fit vs LinearSVC."""
    from gansuite_probes.l2svm import fit_l2svm
    from sklearn.svm import LinearSVC

    rows = int(os.environ.get("GANSUITE_BENCH_SVM_ROWS", 2000))
    C = float(os.environ.get("GANSUITE_BENCH_SVM_C", 1e-3))
    data, X_tr, y_tr, X_te, y_te = _features(rows)
    n = int(X_tr.shape[0])
    X_np, y_np = X_tr.numpy(), y_tr.numpy()
    start = time.perf_counter()
    ref = LinearSVC(C=C, dual=False).fit(X_np, y_np)  # default tol (1e-4), primal Newton
    sklearn_s = time.perf_counter() - start
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    X_dev, y_dev = X_tr.to(device), y_tr.to(device)
    fit = benchmark.pedantic(lambda: fit_l2svm(X_dev, y_dev, 10, C, penalize_intercept=True),
                             rounds=1, warmup_rounds=0 if device.type == "cpu" else 1)
    W, b = fit.weight.double().cpu().numpy(), fit.bias.double().cpu().numpy()
    ours_obj = linearsvc_objective(X_np, y_np, W, b, C)
    theirs_obj = linearsvc_objective(X_np, y_np, ref.coef_.T, ref.intercept_, C)
    ours_pred = fit.predict(X_te.to(device)).cpu().numpy()
    theirs_pred = ref.predict(X_te.numpy())
    agreement = float((ours_pred == theirs_pred).mean())
    speedup = sklearn_s / fit.seconds
    per_eval = fit.seconds / max(fit.evaluations, 1)
    gflops = 4.0 * n * FEATURE_DIM * 10 / per_eval / 1e9  # two (n x d) @ (d x 10) products per evaluation
    benchmark.extra_info.update(
        data=data, n_train=n, n_test=int(X_te.shape[0]), feature_dim=FEATURE_DIM, C=C, device=str(device),
        sklearn_seconds=sklearn_s, torch_seconds=fit.seconds, speedup=speedup, target_speedup=TARGET_SPEEDUP,
        meets_target=speedup >= TARGET_SPEEDUP, objective_torch=ours_obj, objective_sklearn=theirs_obj,
        objective_ratio=ours_obj / theirs_obj, prediction_agreement=agreement,
        torch_accuracy=float((ours_pred == y_te.numpy()).mean()),
        sklearn_accuracy=float((theirs_pred == y_te.numpy()).mean()),
        torch_iterations=fit.iterations, torch_evaluations=fit.evaluations, torch_converged=fit.converged,
        torch_gradient=fit.gradient, seconds_per_evaluation=per_eval, gflops_per_s=gflops,
        threads=torch.get_num_threads(),
    )
    print(f"\nsvm {data} {n} x {FEATURE_DIM}, C={C:g}: torch {fit.seconds:.1f} s on {device} "
          f"({fit.iterations} it, {fit.evaluations} evals, {per_eval:.3f} s/eval = {gflops:.0f} GFLOP/s) vs "
          f"LinearSVC(dual=False) {sklearn_s:.1f} s: {speedup:.1f}x (target {TARGET_SPEEDUP:g}x); "
          f"objective ratio {ours_obj / theirs_obj:.5f}, prediction agreement {agreement:.4f}")
    assert ours_obj <= theirs_obj * (1 + MAX_OBJECTIVE_GAP)
    assert agreement >= MIN_AGREEMENT
