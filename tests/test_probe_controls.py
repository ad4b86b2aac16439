"""The probes' controls on tiny data: a random generator, a copying generator, real held-out data.

A "data-like" generator stands in for a trained one: it mixes real images linearly, so its samples
differ about as much as real images do and its latent walks are straight. Against it the controls
must land on their own sides: the copier scores as a copier, the random generator is not the
smoothest, and no probe returns an undefined number.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from gansuite_probes.common import CopyingGenerator, FixedFeatures, bootstrap_ci, fixed_features, mean_ci
from gansuite_probes.testing import TinyConfig, build_tiny
from helpers import FAST, DataLikeGAN, build_probe, dcgan_like_random, load_digits, load_script, probe_ctx

from gansuite.contract.errors import OptionError
from gansuite.contract.protocols import ImageData

SIZE = 16


@pytest.fixture(scope="module")
def digits() -> dict[str, ImageData]:
    """The embedded digits set at 16x16 (the tiny model's size), both splits."""
    return load_digits(SIZE)


def _by(rows: list[dict], metric: str, space: str | None = None) -> dict[str, dict]:
    return {r["variant"]: r for r in rows if r["metric"] == metric and (space is None or r.get("space") == space)}


# -- shared helpers ---------------------------------------------------------------------------------
def test_fixed_features_are_the_same_network_every_time() -> None:
    a, b = FixedFeatures(), FixedFeatures()
    assert a.fingerprint == b.fingerprint
    assert all(torch.equal(x, y) for x, y in zip(a.buffers(), b.buffers(), strict=True))
    assert FixedFeatures(seed=1).fingerprint != a.fingerprint
    images = torch.randint(0, 256, (5, 1, 20, 20), dtype=torch.uint8)  # any size, gray or RGB
    feats, fingerprint = fixed_features(images)
    assert feats.shape == (5, 7168) and fingerprint == a.fingerprint and torch.isfinite(feats).all()
    rgb, _ = fixed_features(images.expand(-1, 3, -1, -1))
    assert torch.allclose(feats, rgb)


def test_copying_generator_returns_stored_images() -> None:
    bank = torch.randint(0, 256, (50, 3, SIZE, SIZE), dtype=torch.uint8)
    g = CopyingGenerator(bank, z_dim=8)
    out = g(torch.rand(20, 8) * 2 - 1)
    stored = bank.float() / 127.5 - 1
    assert all(any(torch.equal(o, s) for s in stored) for o in out)


def test_intervals() -> None:
    mean, std, half = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert (mean, half) == pytest.approx((2.5, 1.96 * std / 2))
    values = torch.arange(100, dtype=torch.float64)
    value, lo, hi = bootstrap_ci(lambda i: values[i].mean(), (100,), n_boot=200)
    assert value == pytest.approx(49.5) and lo < value < hi and hi - lo < 20


# -- latent walk ----------------------------------------------------------------------------------
def test_latent_walk_ranks_data_like_between_random_and_copying(digits: dict[str, ImageData],
                                                                 tmp_path: Path) -> None:
    cfg = {**FAST["latent-walk"], "n_walks": 8, "copy_bank": 1000}
    ctx = probe_ctx(tmp_path, digits, DataLikeGAN(digits["train"].images), "digits-latent-walk")
    ctx.make_random_model = dcgan_like_random
    rows = build_probe("latent-walk", **cfg).run(ctx)
    assert {(r["variant"], r["space"]) for r in rows} == {(v, s) for v in ("trained", "random", "copying",
                                                                           "trained-random", "trained-copying")
                                                          for s in ("fixed", "pixel")}
    # the data-like G beats both controls, paired walk by walk: intervals above 0
    for space in ("fixed", "pixel"):
        for control in ("random", "copying"):
            gain = _by(rows, "path_length_gain", space)[f"trained-{control}"]
            assert gain["ci95_low"] > 0 and gain["distinguishable"] and gain["paired"]
            by = _by(rows, "path_length", space)
            assert gain["value"] == pytest.approx(by[control]["log_gap"] - by["trained"]["log_gap"])
            assert "8 walks" in gain["ci_method"] and "50 real pairs" in gain["ci_method"]
    for space in ("fixed", "pixel"):
        by = _by(rows, "path_length", space)
        trained, random, copying = by["trained"], by["random"], by["copying"]
        # the random generator is not the smoothest: it barely moves, far below the data's 1
        assert random["value"] < trained["value"] and random["log_gap"] > trained["log_gap"]
        # the copier jumps from one training image to the next: far above 1
        assert copying["value"] > trained["value"] and copying["log_gap"] > trained["log_gap"]
        assert copying["detour"] > 2 * trained["detour"]
        for r in by.values():
            assert r["ci95_low"] <= r["value"] <= r["ci95_high"]
    pixel = _by(rows, "path_length", "pixel")["trained"]
    assert 0.5 < pixel["value"] < 2 and 0.5 < pixel["diversity"] < 2  # straight, data-like walks
    assert pytest.approx(pixel["detour"], rel=0.05) == 1.0
    assert _by(rows, "path_length", "fixed")["trained"]["feature_space"] == FixedFeatures().fingerprint
    from PIL import Image

    with Image.open(tmp_path / "latent-walk-copying-linear.png") as im:
        assert im.size == (9 * (SIZE + 2) + 2, 6 * (SIZE + 2) + 2)  # 6 strips of 2 segments x 4 steps + 1


def test_interpolation_endpoints_and_slerp_norm() -> None:
    from gansuite_probes.latent_walk import interpolate

    points = torch.nn.functional.normalize(torch.randn(2, 3, 8), dim=-1) * 3
    for mode in ("linear", "slerp"):
        frames = interpolate(points, 4, mode)
        assert frames.shape == (2, 9, 8)
        assert torch.allclose(frames[:, ::4], points, atol=1e-5)
    slerped = interpolate(points, 4, "slerp")
    assert torch.allclose(slerped.norm(dim=-1), torch.full((2, 9), 3.0), atol=1e-4)


# -- memorization ---------------------------------------------------------------------------------
def test_memorization_is_two_sided_with_real_and_copying_controls(digits: dict[str, ImageData],
                                                                  tmp_path: Path) -> None:
    cfg = {**FAST["memorization"], "n_holdout": 200}
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)  # untrained: noise far from the data
    rows = build_probe("memorization", **cfg).run(probe_ctx(tmp_path, digits, model, "digits-memorization"))
    assert {(r["variant"], r["space"]) for r in rows if r["metric"] == "nn_ratio"} == {
        (v, s) for v in ("trained", "random", "copying", "real") for s in ("fixed", "pixel")}
    for space in ("fixed", "pixel"):
        gains = {r["control"]: r for r in rows if r.get("space") == space and r["metric"] == "nn_ratio_gain"}
        assert set(gains) == {"random", "copying", "real"}
        # noise is farther from 1 than new real data: a difference below 0, its sets resampled apart
        real = gains["real"]
        assert real["ci95_high"] < 0 and real["note"] == "below 0" and not real["paired"]
        assert "unpaired" in real["ci_method"] and real["n_control_units"] == 100
        assert gains["random"]["paired"] and "samples (paired by latent)" in gains["random"]["ci_method"]
    for space in ("fixed", "pixel"):
        by = _by(rows, "nn_ratio", space)
        # exact copies (float rounding of the batched feature network leaves a trace)
        assert by["copying"]["value"] < 0.01 and by["copying"]["copy_fraction"] == 1.0
        real = by["real"]
        assert real["ci95_low"] < 1.0 < real["ci95_high"] or abs(real["value"] - 1) < 0.15  # new real data ~ 1
        assert real["copy_fraction"] < 0.2
        for variant in ("trained", "random"):  # noise: farther from every training image than real data
            assert by[variant]["value"] > real["ci95_high"] and by[variant]["copy_fraction"] == 0.0
        assert by["trained"]["feature_space"] == (FixedFeatures().fingerprint if space == "fixed"
                                                  else "pixels in [-1, 1]")
    assert (tmp_path / "memorization-fixed.png").is_file() and (tmp_path / "memorization-pixel.png").is_file()


# -- arithmetic -----------------------------------------------------------------------------------
def test_arithmetic_is_defined_for_every_generator(digits: dict[str, ImageData], tmp_path: Path) -> None:
    cfg = FAST["arithmetic"]
    rows = build_probe("arithmetic", **cfg).run(probe_ctx(tmp_path, digits, DataLikeGAN(digits["train"].images),
                                                   "digits-arithmetic"))
    rates, lifts = _by(rows, "success_rate"), _by(rows, "lift")
    assert set(rates) == set(lifts) == {"trained", "random", "copying"}
    trials = cfg["max_pairs"] * cfg["targets_per_pair"]
    for variant, r in rates.items():
        assert r["n_trials"] == trials and math.isfinite(r["value"]) and 0 <= r["value"] <= 1
        assert r["ci95_low"] <= r["value"] <= r["ci95_high"]
        assert lifts[variant]["value"] == pytest.approx(r["value"] - r["random_offset_rate"], abs=1e-9)
    # the untrained tiny generator draws one grey image: at most one class, so no pair can be formed
    assert rates["random"]["classes_found"] <= 1 and rates["random"]["value"] == 0.0
    assert rates["random"]["pairs_missing"] == cfg["max_pairs"]
    # the copier's z has no class structure: its arithmetic is no better than a random offset
    assert abs(lifts["copying"]["value"]) <= max(lifts["copying"]["ci95"], 0.2)
    clf = _by(rows, "classifier_accuracy")["real"]
    assert clf["value"] > 0.8 and clf["ci95"] > 0


def test_arithmetic_refuses_too_few_trials() -> None:
    with pytest.raises(OptionError, match="min_trials=200"):
        build_probe("arithmetic", max_pairs=2, targets_per_pair=4)


def test_arithmetic_needs_enough_pairs(digits: dict[str, ImageData], tmp_path: Path) -> None:
    two = {k: ImageData(v.images, (v.labels % 2), ("even", "odd")) for k, v in digits.items()}
    ctx = probe_ctx(tmp_path, two, build_tiny(TinyConfig(), image_size=SIZE, channels=3), "digits-arithmetic")
    with pytest.raises(OptionError, match="min_trials"):
        build_probe("arithmetic", **{**FAST["arithmetic"], "min_trials": 24}).run(ctx)


# -- the calibration table ------------------------------------------------------------------------
def _calibration() -> Any:
    return load_script("probe_calibration")


def test_calibration_checks_each_side() -> None:
    cal = _calibration()

    def row(probe: str, metric: str, variant: str, value: float, space: str | None = None) -> dict:
        return {"probe": probe, "metric": metric, "variant": variant, "value": value, "ci95": 0.01,
                "ci95_low": value - 0.01, "ci95_high": value + 0.01, "space": space, "better": "x"}

    good = [row("latent-walk", "path_length", "trained", 2.0, "fixed"),
            row("latent-walk", "path_length", "random", 1e-4, "fixed"),
            row("latent-walk", "path_length", "early", 4.0, "fixed"),
            row("latent-walk", "path_length", "gaussian-fit", 0.3, "fixed"),
            row("latent-walk", "path_length", "copying", 20.0, "fixed"),
            row("memorization", "nn_ratio", "trained", 1.5, "fixed"),
            row("memorization", "nn_ratio", "random", 3.0, "fixed"),
            row("memorization", "nn_ratio", "copying", 0.0, "fixed"),
            row("memorization", "nn_ratio", "real", 1.0, "fixed"),
            row("arithmetic", "lift", "trained", 0.5), row("arithmetic", "lift", "random", 0.0),
            row("arithmetic", "lift", "copying", 0.03),
            row("kid", "kid", "trained", 0.02), row("kid", "kid", "random", 0.3), row("kid", "kid", "early", 0.2),
            row("svm", "error", "trained", 0.06), row("svm", "error", "random", 0.07),
            {**row("svm", "gain_over_random", "trained-random", 0.02), "better": "higher"}]
    results = {probe: cal.checks(good, probe) for probe in cal.PROBES}
    assert all(ok for checks in results.values() for _, ok in checks), results
    # the copier is shown, never checked: a check against it could not fail
    assert not any("copying" in what for checks in results.values() for what, _ in checks)
    assert len(results["memorization"]) == 1 and len(results["svm"]) == 2 and len(results["latent-walk"]) == 3
    # two-sided: a random G below 1 (as on CIFAR-10) is fine while the trained one is closer to 1
    low = [{**r, "value": 0.4} if (r["probe"], r["variant"]) == ("memorization", "random") else r for r in good]
    assert all(ok for _, ok in cal.checks(low, "memorization"))
    far = [{**r, "value": 0.1} if (r["probe"], r["variant"]) == ("memorization", "trained") else r for r in low]
    assert not dict(cal.checks(far, "memorization"))["closer to 1 than random (fixed)"]
    bad = [{**r, "value": 0.25} if (r["probe"], r["variant"]) == ("latent-walk", "trained") else r for r in good]
    walk = dict(cal.checks(bad, "latent-walk"))
    assert walk["closer to 1 than random (fixed)"] and not walk["closer to 1 than gaussian-fit (fixed)"]
    worse = [{**r, "value": 0.25} if (r["probe"], r["variant"]) == ("kid", "trained") else r for r in good]
    assert dict(cal.checks(worse, "kid")) == {"KID below early": False, "KID below random": True}

    # a collapsed generator fails the spread check
    stds = [{**good[0], "sample_std": 0.2, "variant": "real"}, {**good[0], "sample_std": 0.01}]
    assert [ok for _, ok in cal.std_checks(stds)] == [False]
    page = cal.render({"dcgan on digits": (Path("runs/x"), [{**r, "model": "dcgan", "step": 3} for r in good])})
    assert ("| latent-walk | path_length | fixed | 2.0000 ± 0.0100 | 4.0000 ± 0.0100 | 0.3000 ± 0.0100 | "
            "0.0001 ± 0.0100 | 20.0 ± 0.0 |") in page
    assert "**no**" not in page and "Provenance:" in page


def test_calibration_reads_paired_gain_rows() -> None:
    """A trained G above a control whose paired interval holds 0 fails the gain check, and the page
    puts each difference in its control's column with the 'not distinguishable' note."""
    cal = _calibration()

    def row(metric: str, variant: str, value: float, low: float | None = None) -> dict:
        out = {"probe": "prdc", "metric": metric, "variant": variant, "value": value, "ci95": 0.01}
        if low is not None:
            out.update(ci95_low=low, ci95_high=2 * value - low, distinguishable=low > 0)
        return out

    rows = [row("precision", "trained", 0.48), row("precision", "gaussian-fit", 0.16), row("precision", "random", 0.0),
            row("precision_gain", "trained-gaussian-fit", 0.32, 0.26), row("precision_gain", "trained-random", 0.48, 0.43),
            row("recall", "trained", 0.77), row("recall", "gaussian-fit", 0.78),
            row("recall_gain", "trained-gaussian-fit", -0.01, -0.04)]
    got = dict(cal.checks(rows, "prdc"))
    assert got == {"precision above gaussian-fit": True, "precision above random": True,
                   "recall above gaussian-fit": False,
                   "precision_gain over gaussian-fit: paired CI above 0": True,
                   "precision_gain over random: paired CI above 0": True,
                   "recall_gain over gaussian-fit: paired CI above 0": False}
    page = cal.render({"run": (Path("r"), [{**r, "model": "m", "step": 1, "seed": 0} for r in rows])})
    line = next(x for x in page.splitlines() if x.startswith("| prdc | recall_gain |"))
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[3 + cal.VARIANTS.index("gaussian-fit")].endswith("(not distinguishable from 0)")
    assert cells[3 + cal.VARIANTS.index("trained")] == ""


def test_calibration_reuses_a_runs_own_rows_without_evaluating(tmp_path: Path) -> None:
    """``--reuse svm``: the run's svm rows from ``gansuite run --eval`` are taken as they are (marked
    ``reused``); a probe whose eval the run lacks would be evaluated (a subprocess, not reached here)."""
    cal = _calibration()
    run = tmp_path / "run"
    run.mkdir()
    own = [{"eval": "cifar10-svm", "probe": "svm", "metric": "accuracy", "variant": "trained", "value": 0.6},
           {"eval": "cifar10-kid", "probe": "kid", "metric": "kid", "variant": "trained", "value": 1.0}]
    (run / "results.json").write_text(json.dumps(own))
    work = tmp_path / "work"
    work.mkdir()
    rows = cal.evaluate(run, "cifar10", work, None, False, [], probes=("svm",), reuse=("svm",))
    assert rows == [{**own[0], "reused": True}]
    section = cal.render({"x": (run, rows)})
    assert "`cifar10-svm`: the run's own `gansuite run --eval`" in section
