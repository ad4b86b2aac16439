"""The svm probe's torch L2-SVM solver: agreement with scikit-learn and fit time at the paper's size.

- Agreement: the same D features (a DCGAN discriminator with 7,168 probe features, as in the
  authors' SVHN script, on the embedded digits images; or CIFAR-10 when ``GANSUITE_BENCH_CIFAR``
  names its data root), the same C and the same objective (``penalize_intercept=True`` matches
  LinearSVC's penalised intercept). Test accuracies must agree within 0.5 points.
- Fit time: one-vs-rest over 10 classes on 50,000 x 7,168 float32 features (the full pass; the
  quick pass uses 2,000 rows; ``GANSUITE_BENCH_SVM_ROWS`` overrides). LinearSVC needed 485-494 s
  for this size on a 2-core CPU; the probe's solver must fit it in minutes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch

from gansuite.plugin.manager import get_catalog
from gansuite.plugin.options import build_config

FEATURE_ROWS_FULL = 50_000
FEATURE_ROWS_QUICK = 2_000
FEATURE_DIM = 7_168
MAX_ACCURACY_GAP = 0.005


def _dcgan_7168() -> Any:
    """A randomly initialised DCGAN at 32x32 with 64-128-256 channels: 7,168 probe features."""
    spec = get_catalog().registry("models").get("dcgan")
    torch.manual_seed(0)
    config = build_config(spec, {"ndf": 64, "ngf": 64, "kernel_size": 4, "image_size": 32})
    return spec.load_factory()(config, image_size=32, channels=3)


def _images(n_train: int, n_test: int) -> tuple[Any, Any]:
    catalog = get_catalog()
    cifar_root = os.environ.get("GANSUITE_BENCH_CIFAR")
    name, root = ("cifar10", Path(cifar_root)) if cifar_root else ("digits", Path("."))
    spec = catalog.registry("datasets").get(name)
    dataset = spec.load_factory()(build_config(spec, {}), root=root)
    train, test = dataset.load("train", image_size=32), dataset.load("test", image_size=32)
    gen = torch.Generator().manual_seed(0)
    tr = torch.randperm(len(train), generator=gen)[:n_train]
    te = torch.randperm(len(test), generator=gen)[:n_test]
    return (train.images[tr], train.labels[tr]), (test.images[te], test.labels[te])


def test_solver_agrees_with_linearsvc(benchmark: Any, bench_settings: Any) -> None:
    """Test accuracy of the torch solver and LinearSVC, same features, same C."""
    from gansuite_probes.common import extract_features
    from gansuite_probes.l2svm import Standardizer, accuracy, fit_l2svm
    from sklearn.svm import LinearSVC

    n_train = 500 if bench_settings.quick else 2000
    (x_tr, y_tr), (x_te, y_te) = _images(n_train, 1000)
    model = _dcgan_7168()
    X_tr, X_te = extract_features(model, x_tr), extract_features(model, x_te)
    assert X_tr.shape[1] == FEATURE_DIM
    scaler = Standardizer(X_tr)
    scaler.apply_(X_tr)
    scaler.apply_(X_te)
    C = 1e-3
    start = time.perf_counter()
    ref = LinearSVC(C=C, dual=True, tol=1e-5, max_iter=20_000).fit(X_tr.numpy(), y_tr.numpy())
    sklearn_s = time.perf_counter() - start
    fit = benchmark.pedantic(
        lambda: fit_l2svm(X_tr, y_tr, 10, C, max_iter=500, tol=1e-6, penalize_intercept=True),
        rounds=1, warmup_rounds=0)
    ours = accuracy(fit.predict(X_te), y_te)
    theirs = float((ref.predict(X_te.numpy()) == y_te.numpy()).mean())
    benchmark.extra_info.update(torch_accuracy=ours, sklearn_accuracy=theirs, sklearn_seconds=sklearn_s,
                                torch_iterations=fit.iterations, n_train=n_train, n_test=len(y_te),
                                feature_dim=FEATURE_DIM, C=C)
    print(f"\nsvm agreement: torch {ours:.4f} ({fit.seconds:.1f} s, {fit.iterations} it) vs "
          f"LinearSVC {theirs:.4f} ({sklearn_s:.1f} s), {n_train} x {FEATURE_DIM}")
    assert abs(ours - theirs) <= MAX_ACCURACY_GAP


def _features(rows: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Ten Gaussian classes in 7,168 dimensions, standardised: the probe's input layout."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (rows,), generator=gen)
    centres = torch.randn(10, FEATURE_DIM, generator=gen) * 0.05
    X = torch.randn(rows, FEATURE_DIM, generator=gen)
    X += centres[labels]
    return X, labels


def test_fit_time_at_paper_size(benchmark: Any, bench_settings: Any, record_throughput: Any) -> None:
    """One-vs-rest L-BFGS fit, 10 classes, ``rows`` x 7,168 features (50,000 in the full pass)."""
    from gansuite_probes.l2svm import accuracy, fit_l2svm

    default = FEATURE_ROWS_QUICK if bench_settings.quick else FEATURE_ROWS_FULL
    rows = int(os.environ.get("GANSUITE_BENCH_SVM_ROWS", default))
    X, y = _features(rows)
    iterations = 10 if bench_settings.quick else 50
    fit = benchmark.pedantic(lambda: fit_l2svm(X, y, 10, 1e-3, max_iter=iterations, tol=0.0),
                             rounds=1 if not bench_settings.quick else 2, warmup_rounds=0)
    per_iteration = fit.seconds / max(fit.iterations, 1)
    record_throughput(items=rows, unit="rows/s", device="cpu", dtype="float32", rows=rows,
                      feature_dim=FEATURE_DIM, iterations=fit.iterations, evaluations=fit.evaluations,
                      seconds_per_iteration=per_iteration, train_accuracy=accuracy(fit.predict(X), y))
    print(f"\nsvm fit: {rows} x {FEATURE_DIM}, {fit.iterations} iterations ({fit.evaluations} evaluations) "
          f"in {fit.seconds:.1f} s = {per_iteration:.2f} s/iteration")
    assert fit.iterations >= 1
