"""The reference probes on tiny data: the L2-SVM solver, each probe, and their figures."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from gansuite_probes import EVALS, PROBES
from gansuite_probes.common import extract_features, feature_layout, to_uint8
from gansuite_probes.config import SVMConfig
from gansuite_probes.l2svm import Standardizer, accuracy, fit_l2svm
from gansuite_probes.testing import TinyConfig, build_tiny
from helpers import FAST, build_probe, load_digits, probe_ctx

from gansuite._host.options import build_config
from gansuite.contract.errors import DataError, OptionError
from gansuite.contract.protocols import ImageData

SIZE = 16


@pytest.fixture(scope="module")
def digits() -> dict[str, ImageData]:
    """The embedded digits set at 16x16 (the tiny model's size), both splits."""
    return load_digits(SIZE)


# -- the solver ------------------------------------------------------------------------------
def _objective(X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, b: torch.Tensor, C: float,
               with_bias: bool = False) -> float:
    """LinearSVC's primal objective (summed over classes), in float64."""
    Y = torch.full((X.shape[0], W.shape[1]), -1.0, dtype=torch.float64)
    Y[torch.arange(X.shape[0]), y] = 1.0
    margins = (1 - Y * (X.double() @ W.double() + b.double())).clamp_min(0)
    penalty = W.double().square().sum() + (b.double().square().sum() if with_bias else 0.0)
    return float(0.5 * penalty + C * margins.square().sum())


def _digits_features() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = torch.tensor(bunch.data[:900], dtype=torch.float32)
    X_test = torch.tensor(bunch.data[900:], dtype=torch.float32)
    scaler = Standardizer(X)
    return (scaler.apply_(X), torch.tensor(bunch.target[:900]), scaler.apply_(X_test),
            torch.tensor(bunch.target[900:]))


@pytest.mark.parametrize("C", [1e-3, 1e-1])
def test_l2svm_matches_linearsvc(C: float) -> None:
    from sklearn.svm import LinearSVC

    X, y, X_test, y_test = _digits_features()
    ref = LinearSVC(C=C, dual=False, tol=1e-8, max_iter=5000).fit(X.numpy(), y.numpy())
    W_ref = torch.tensor(ref.coef_.T, dtype=torch.float32)
    b_ref = torch.tensor(ref.intercept_, dtype=torch.float32)
    same = fit_l2svm(X, y, 10, C, max_iter=500, tol=1e-7, penalize_intercept=True)
    theirs = _objective(X, y, W_ref, b_ref, C, with_bias=True)
    assert _objective(X, y, same.weight, same.bias, C, with_bias=True) == pytest.approx(theirs, rel=1e-3)
    ref_acc = float((ref.predict(X_test.numpy()) == y_test.numpy()).mean())
    assert abs(accuracy(same.predict(X_test), y_test) - ref_acc) <= 0.005
    # The probe's default leaves the intercept free: its optimum can only be lower.
    free = fit_l2svm(X, y, 10, C, max_iter=500, tol=1e-7)
    assert _objective(X, y, free.weight, free.bias, C) <= _objective(X, y, W_ref, b_ref, C) * (1 + 1e-4)
    assert free.iterations > 0 and free.seconds > 0


def test_l2svm_with_fewer_rows_than_features_reaches_linearsvc_optimum() -> None:
    """Few-label fits run in the span of the rows: the same optimum as LinearSVC's in all features."""
    from sklearn.svm import LinearSVC

    gen = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 5
    X = torch.randn(60, 400, generator=gen) + torch.randn(5, 400, generator=gen)[y]
    C = 1e-2
    ref = LinearSVC(C=C, dual=False, tol=1e-8, max_iter=5000).fit(X.numpy(), y.numpy())
    fit = fit_l2svm(X, y, 5, C, penalize_intercept=True)
    assert fit.weight.shape == (400, 5) and fit.converged
    theirs = _objective(X, y, torch.tensor(ref.coef_.T), torch.tensor(ref.intercept_), C, with_bias=True)
    assert _objective(X, y, fit.weight, fit.bias, C, with_bias=True) == pytest.approx(theirs, rel=1e-3)
    X_new = torch.randn(200, 400, generator=gen)
    agree = (fit.predict(X_new).numpy() == ref.predict(X_new.numpy())).mean()
    assert agree >= 0.99
    warm = fit_l2svm(X, y, 5, C, penalize_intercept=True, init=fit)  # a warm start maps into the span too
    assert warm.iterations < fit.iterations


def test_l2svm_warm_start_needs_fewer_iterations() -> None:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(400, 30, generator=gen)
    y = X[:, :3].argmax(1)
    cold = fit_l2svm(X, y, 3, 1.0, max_iter=300, tol=1e-6)
    warm = fit_l2svm(X, y, 3, 1.0, max_iter=300, tol=1e-6, init=cold)
    assert warm.iterations < cold.iterations
    assert accuracy(cold.predict(X), y) > 0.9


def test_l2svm_rejects_mismatched_labels() -> None:
    with pytest.raises(ValueError, match="labels"):
        fit_l2svm(torch.zeros(5, 3), torch.zeros(4, dtype=torch.long), 2, 1.0)


def test_standardizer_gives_zero_mean_unit_std() -> None:
    X = torch.randn(1000, 4) * torch.tensor([1.0, 10.0, 0.1, 0.0]) + 5
    Standardizer(X, chunk=128).apply_(X)
    assert torch.allclose(X.mean(0), torch.zeros(4), atol=1e-4)
    assert torch.allclose(X[:, :3].std(0), torch.ones(3), atol=1e-2)
    assert torch.all(X[:, 3] == 0)  # a constant feature stays finite


# -- features ---------------------------------------------------------------------------------
def test_features_pool_every_layer_to_4x4_in_eval_mode(digits: dict[str, ImageData]) -> None:
    model = build_tiny(TinyConfig(width=4), image_size=SIZE, channels=3)
    model.discriminator.train()
    images = digits["train"].images[:10]
    feats = extract_features(model, images, batch_size=3)
    assert feature_layout(model) == [4, 8]
    assert feats.shape == (10, (4 + 8) * 16)
    assert model.discriminator.training  # mode restored
    model.discriminator.eval()
    with torch.no_grad():
        direct = torch.nn.functional.adaptive_max_pool2d(model.features(images.float() / 127.5 - 1)[1], 4)
    assert torch.allclose(feats[:, 4 * 16 :], direct.flatten(1), atol=1e-5)


def test_to_uint8_round_trip() -> None:
    x = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    assert to_uint8(x).tolist() == [0, 128, 255, 255]


# -- every probe, on tiny data ------------------------------------------------------------------


def test_every_registered_probe_has_fast_settings() -> None:
    assert {p.name for p in PROBES} == set(FAST)
    for name, values in FAST.items():
        spec = next(p for p in PROBES if p.name == name)
        build_config(spec, values)  # the fast settings are valid options


def test_every_eval_names_a_registered_probe_and_valid_params() -> None:
    names = {p.name: p for p in PROBES}
    for e in EVALS:
        assert e.probe in names, e.name
        build_config(names[e.probe], dict(e.params))


CALIBRATED = ("svm", "latent-walk", "arithmetic", "memorization")  # docs/probes.md


@pytest.mark.parametrize("name", ["svm", "latent-walk", "arithmetic", "memorization", "guided-backprop",
                                  "forgetting"])
def test_probe_runs_on_tiny_data(name: str, digits: dict[str, ImageData], tmp_path: Path) -> None:
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    eval_name = next(e.name for e in EVALS if e.probe == name and e.dataset == "digits")
    rows = build_probe(name, **FAST[name]).run(probe_ctx(tmp_path, digits, model, eval_name))
    assert rows
    for row in rows:
        assert isinstance(row["metric"], str)
        assert isinstance(row["value"], float) and math.isfinite(row["value"])
    if name in CALIBRATED:  # every number has its interval, and the controls are beside the model
        assert all(math.isfinite(r["ci95"]) and r["ci95"] >= 0 for r in rows), rows
        assert {"trained", "random"} <= {r["variant"] for r in rows}
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- svm ------------------------------------------------------------------------------------------
def test_svm_reports_trained_random_and_gain(digits: dict[str, ImageData], tmp_path: Path) -> None:
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    seeds: list[int] = []
    ctx = probe_ctx(tmp_path, digits, model, "digits-svm", seed=5)
    make_random = ctx.make_random_model
    ctx.make_random_model = lambda s: seeds.append(s) or make_random(s)  # type: ignore[func-returns-value]
    rows = build_probe("svm", protocol="full", val_size=200, search_max_train=500, c_grid=(1e-3, 1e-2)).run(ctx)
    assert [r["variant"] for r in rows] == ["trained", "random", "trained-random"]
    assert seeds == [5]
    n = len(digits["train"])
    for r in rows[:2]:
        assert r["metric"] == "accuracy" and 0.5 < r["value"] <= 1.0  # 10 classes: chance is 0.1
        assert r["feature_dim"] == (8 + 16) * 16 and r["layers"] == [8, 16]
        assert r["C_search"] in (1e-3, 1e-2) and len(r["c_search"]) == 2
        assert r["C"] == pytest.approx(r["C_search"] * 500 / n)  # the search's regularisation per image
        assert (r["n_train"], r["n_val"], r["n_test"]) == (n, 200, len(digits["test"]))
        assert r["n_search"] == 500  # C is chosen on a subset; the final fit uses every training image
        assert r["converged"] and r["gradient"] <= r["target"] == 1e-4 and r["iterations"] > 0
        assert r["ci95_low"] < r["value"] < r["ci95_high"] and 0 < r["ci95"] < 0.1
        assert "_correct" not in r
        assert r["time_search_s"] > 0 and r["time_final_fit_s"] > 0 and r["time_features_s"] > 0  # per phase
        assert r["time_svm_s"] == pytest.approx(r["time_search_s"] + r["time_final_fit_s"], abs=0.02)
    gain = rows[2]
    assert gain["metric"] == "gain_over_random"
    assert gain["value"] == pytest.approx(rows[0]["value"] - rows[1]["value"], abs=1e-9)
    assert gain["ci95_low"] <= gain["value"] <= gain["ci95_high"]


def test_svm_without_control_and_single_c(digits: dict[str, ImageData], tmp_path: Path) -> None:
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    ctx = probe_ctx(tmp_path, digits, model, "digits-svm")
    rows = build_probe("svm", protocol="full", c_grid=(1e-2,), random_control=False, max_train=500,
                 max_test=100).run(ctx)
    assert len(rows) == 1
    assert rows[0]["n_val"] == 0 and rows[0]["C"] == 1e-2
    assert (rows[0]["n_train"], rows[0]["n_test"]) == (500, 100)


def test_svm_few_label_protocol(digits: dict[str, ImageData], tmp_path: Path) -> None:
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    ctx = probe_ctx(tmp_path, digits, model, "svhn-svm")
    ctx.eval = dataclasses.replace(ctx.eval, dataset="digits")
    rows = build_probe("svm", protocol="few-label", val_size=300, labels_per_class=5, n_draws=3).run(ctx)
    assert [r["variant"] for r in rows] == ["trained", "random", "trained-random"]
    for r in rows[:2]:
        errors = torch.tensor(r["errors"]).double()
        assert r["metric"] == "error" and r["protocol"] == "few-label"
        assert len(r["errors"]) == 3 and r["n_draws"] == 3
        assert r["value"] == pytest.approx(sum(r["errors"]) / 3, abs=1e-5)
        assert r["spread95"] == pytest.approx(1.96 * errors.std().item(), rel=1e-4)  # the paper's +-
        # the interval resamples test images as well as draws: wider than the draws-only one
        assert r["ci95"] > 1.96 * errors.std().item() / 3**0.5
        assert r["ci95_low"] < r["value"] < r["ci95_high"]
        assert "test images" in r["ci_method"] and "label draws" in r["ci_method"]
        assert r["n_train"] == 50 and r["n_val"] == 300
        assert 0.0 <= r["value"] < 0.9
        assert r["target"] == 1e-4 and r["iterations"] > 0 and r["stop"] in ("gradient", "stalled", "iteration cap")
        assert r["converged"] == (r["gradient"] <= r["target"])
    paired = torch.tensor(rows[1]["errors"]).double() - torch.tensor(rows[0]["errors"]).double()
    gain = rows[2]
    assert gain["value"] == pytest.approx(paired.mean().item(), abs=1e-5)  # same draws for both Ds
    assert gain["n_test"] == len(digits["test"]) and gain["n_draws"] == 3
    assert gain["gain_images"] == pytest.approx(gain["value"] * gain["n_test"])
    assert "paired" in gain["ci_method"] and "test images" in gain["ci_method"]
    assert gain["distinguishable"] == (gain["ci95_low"] > 0 or gain["ci95_high"] < 0)
    assert (gain["note"] == "not distinguishable from 0") == (not gain["distinguishable"])


def test_svm_cross_fit_tests_every_image_once(digits: dict[str, ImageData], tmp_path: Path) -> None:
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    ctx = probe_ctx(tmp_path, digits, model, "digits-svm")
    rows = build_probe("svm", protocol="few-label", val_size=300, labels_per_class=5, n_draws=2, cross_fit=3,
                 c_grid=(1e-3,)).run(ctx)
    n = len(digits["train"]) + len(digits["test"])
    for r in rows[:2]:
        assert r["n_test"] == n and sum(r["n_fold_test"]) == n and len(r["n_fold_test"]) == 3
        assert r["n_draws"] == 2 and len(r["errors"]) == 2 and "cross-fitted" in r["ci_method"]
        assert r["value"] == pytest.approx(sum(r["errors"]) / 2, abs=1e-5)
    gain = rows[2]
    assert gain["n_test"] == n and gain["test_split_n_test"] == len(digits["test"])
    assert gain["ci95_low"] <= gain["value"] <= gain["ci95_high"]
    assert gain["value"] == pytest.approx(rows[1]["value"] - rows[0]["value"], abs=1e-9)


def test_svm_cross_fit_needs_the_few_label_protocol() -> None:
    with pytest.raises(ValueError, match="cross_fit"):
        SVMConfig(cross_fit=1)


def test_svm_flags_a_fit_stopped_by_its_iteration_cap(digits: dict[str, ImageData], tmp_path: Path) -> None:
    ctx = probe_ctx(tmp_path, digits, build_tiny(TinyConfig(), image_size=SIZE, channels=3), "digits-svm")
    rows = build_probe("svm", protocol="few-label", val_size=300, labels_per_class=5, n_draws=2, max_iter=2,
                 random_control=False).run(ctx)
    r = rows[0]
    assert not r["converged"] and r["stop"] == "iteration cap" and r["gradient"] > r["target"]
    assert r["fits_not_converged"] > 0 and "fit stopped (iteration cap)" in r["note"]


def test_svm_few_label_needs_enough_images_per_class(digits: dict[str, ImageData], tmp_path: Path) -> None:
    ctx = probe_ctx(tmp_path, digits, build_tiny(TinyConfig(), image_size=SIZE, channels=3), "svhn-svm")
    with pytest.raises(OptionError, match="labels_per_class"):
        build_probe("svm", protocol="few-label", val_size=300, labels_per_class=500, n_draws=1).run(ctx)


def test_svm_needs_labels(digits: dict[str, ImageData], tmp_path: Path) -> None:
    unlabelled = {k: ImageData(v.images) for k, v in digits.items()}
    ctx = probe_ctx(tmp_path, unlabelled, build_tiny(TinyConfig(), image_size=SIZE, channels=3), "digits-svm")
    with pytest.raises(DataError, match="no labels"):
        build_probe("svm").run(ctx)


@pytest.mark.parametrize("bad", [{"c_grid": ()}, {"c_grid": (0.0,)}, {"val_size": 0}, {"n_draws": -1}])
def test_svm_config_rejects_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SVMConfig(**bad)  # type: ignore[arg-type]




def test_fixed_iteration_fit_with_zero_tolerance_reports_its_gradient() -> None:
    """tol=0 (a fixed number of iterations, as the registry benchmark fits) is a valid fit."""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(60, 8, generator=gen)
    y = torch.arange(60) % 3
    fit = fit_l2svm(X, y, 3, 0.01, max_iter=3, tol=0.0)
    assert fit.iterations <= 3 and math.isfinite(fit.gradient) and fit.gradient > 0
