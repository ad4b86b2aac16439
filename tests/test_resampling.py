"""The shared paired-interval code: it resamples test images (and draws), pairs both sides, and
says "not distinguishable" when the interval contains 0."""

from __future__ import annotations

import pytest
import torch
from gansuite_probes.resampling import NOT_DISTINGUISHABLE, paired_gain, resample_means


def test_one_image_gain_on_359_is_not_distinguishable() -> None:
    control = (torch.rand(359, generator=torch.Generator().manual_seed(0)) < 0.9).double()
    model = control.clone()
    wrong = torch.nonzero(control == 0).flatten()[:1]
    model[wrong] = 1.0  # the model gets one more test image right
    row = paired_gain(model, control, seed=1)
    assert row["gain_images"] == pytest.approx(1.0)
    assert row["ci95_low"] <= 0 < row["ci95_high"]
    assert not row["distinguishable"] and row["note"] == NOT_DISTINGUISHABLE


def test_a_large_paired_gain_is_distinguishable_and_sign_flips_errors() -> None:
    gen = torch.Generator().manual_seed(0)
    control = (torch.rand(4, 500, generator=gen) < 0.5).double()
    model = torch.maximum(control, (torch.rand(4, 500, generator=gen) < 0.5).double())
    row = paired_gain(model, control, seed=0)
    assert row["ci95_low"] > 0 and row["distinguishable"] and row["note"] == "above 0"
    assert "500 test images and 4 label draws" in row["ci_method"]
    errors = paired_gain(1 - model, 1 - control, sign=-1.0, seed=0)  # error gain = the same gain
    assert errors["value"] == pytest.approx(row["value"]) and errors["ci95_low"] == pytest.approx(row["ci95_low"])


def test_pairing_narrows_the_interval_when_images_differ_in_difficulty() -> None:
    # Both sides get the same hard images wrong; the model gets 20 more right. Resampling
    # images pairs them, so the shared difficulty cancels; resampling each side alone would not.
    gen = torch.Generator().manual_seed(3)
    control = (torch.rand(1000, generator=gen) < 0.6).double()
    model = control.clone()
    model[torch.nonzero(control == 0).flatten()[:20]] = 1.0
    row = paired_gain(model, control, seed=0)
    a = resample_means(model.unsqueeze(0), 2000, torch.Generator().manual_seed(1))
    b = resample_means(control.unsqueeze(0), 2000, torch.Generator().manual_seed(2))
    unpaired = torch.quantile(a - b, torch.tensor([0.025, 0.975], dtype=torch.float64))
    assert row["ci95_high"] - row["ci95_low"] < 0.5 * float(unpaired[1] - unpaired[0])
    assert row["distinguishable"]


def test_resampling_draws_widens_the_interval_when_draws_disagree() -> None:
    gen = torch.Generator().manual_seed(0)
    images = (torch.rand(1, 300, generator=gen) < 0.5).double()
    steady = images.repeat(6, 1)
    noisy = steady + torch.tensor([-0.4, 0.4, -0.4, 0.4, -0.4, 0.4], dtype=torch.float64).unsqueeze(1)
    zero = torch.zeros_like(steady)
    w_steady = paired_gain(steady, zero, seed=0)
    w_noisy = paired_gain(noisy, zero, seed=0)
    assert w_noisy["value"] == pytest.approx(w_steady["value"])
    assert w_noisy["ci95"] > w_steady["ci95"]


def test_identical_sides_and_bad_inputs() -> None:
    same = torch.ones(3, 10)
    row = paired_gain(same, same)
    assert row["value"] == 0 and row["note"] == NOT_DISTINGUISHABLE
    with pytest.raises(ValueError, match="one shape"):
        paired_gain(torch.ones(10), torch.ones(11))
    with pytest.raises(ValueError, match="n_boot"):
        paired_gain(same, same, n_boot=10)
