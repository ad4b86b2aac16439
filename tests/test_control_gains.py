"""The paired "trained minus control" rows of kid, latent-walk, memorization and arithmetic can fail.

For each probe: a generator that is clearly better than a control (real held-out images, straight
data-like walks, a latent space with class structure) gets an interval above 0; a bad one (the
control itself, a generator that draws one grey image) gets a difference that is not
distinguishable from 0 or is below it, and the printed table says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from gansuite_probes.common import CopyingGenerator
from gansuite_probes.distances import kid_score, kid_subsets, kid_subsets_from_grams, poly_kernel
from gansuite_probes.resampling import NOT_DISTINGUISHABLE, bootstrap_gain
from gansuite_probes.testing import TinyConfig, TinyGAN
from helpers import FAST, DataLikeGAN, build_probe, dcgan_like_random, load_digits, probe_ctx

from gansuite._host.manager import build_catalog
from gansuite.contract.protocols import ImageData
from gansuite.report.texttable import result_rows_table

SIZE = 16
KID = {"n_samples": 120, "n_reference": 300, "subset_size": 50, "subsets": 5, "features": "fixed", "n_boot": 300}


@pytest.fixture(scope="module")
def digits() -> dict[str, ImageData]:
    return load_digits(SIZE)


class StoredImagesGAN(TinyGAN):
    """A generator that returns stored images (z picks one): real held-out digits as a 'generator'."""

    def __init__(self, images: torch.Tensor) -> None:
        torch.manual_seed(0)
        super().__init__(TinyConfig(), SIZE, 3)
        self.generator = CopyingGenerator(images, self.z_dim, seed=0)


class ClassInZGAN(TinyGAN):
    """``G(z)`` = a fixed real image of class ``argmax(z[:10])``: z has linear class structure, so
    ``mean(z_A) - mean(z_B) + z_B`` lands in class A far more often than a random offset does."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        torch.manual_seed(0)
        super().__init__(TinyConfig(), SIZE, 3)
        bank = torch.stack([images[torch.nonzero(labels == c).flatten()[0]] for c in range(10)]).float() / 127.5 - 1

        class _Pick(torch.nn.Module):
            def forward(self, z: torch.Tensor) -> torch.Tensor:
                return bank.to(z.device)[z[:, :10].argmax(1)]

        self.generator = _Pick()


def _gains(rows: list[dict[str, Any]], **where: str) -> dict[str, dict[str, Any]]:
    """The trained G's difference rows, by control."""
    return {r["control"]: r for r in rows if r["variant"].startswith("trained-")
            and all(r.get(k) == v for k, v in where.items())}


def _table_line(rows: list[dict[str, Any]], variant: str, probe: str) -> str:
    table = result_rows_table([{**r, "eval": "e", "probe": probe} for r in rows], build_catalog())
    return next(line for line in table.splitlines() if f" {variant} " in line)


# -- the arithmetic behind the kid rows -----------------------------------------------------------
def test_kid_kernels_give_the_subset_values_and_the_full_set_difference() -> None:
    gen = torch.Generator().manual_seed(0)
    x, z = torch.randn(60, 16, generator=gen), torch.randn(60, 16, generator=gen) + 0.2
    y = torch.randn(80, 16, generator=gen) + 0.1
    direct = kid_subsets(x, y, 5, 20, torch.Generator().manual_seed(1))
    grams = kid_subsets_from_grams(poly_kernel(x, x), poly_kernel(y, y), poly_kernel(x, y), 5, 20,
                                   torch.Generator().manual_seed(1))
    assert torch.allclose(direct, grams, rtol=1e-10, atol=1e-12)  # the same subsets, read off the kernels

    def full(a: torch.Tensor) -> float:  # the unbiased MMD^2 of all of a against all of y
        kxx, kyy, kxy = poly_kernel(a, a), poly_kernel(y, y), poly_kernel(a, y)
        n, m = len(a), len(y)
        return float((kxx.sum() - kxx.trace()) / (n * (n - 1)) + (kyy.sum() - kyy.trace()) / (m * (m - 1))
                     - 2 * kxy.mean())

    gain = bootstrap_gain(kid_score(poly_kernel(x, x), poly_kernel(x, y)),
                          kid_score(poly_kernel(z, z), poly_kernel(z, y)), 60, 60, n_shared=80, n_boot=200)
    assert gain["value"] == pytest.approx(full(z) - full(x), rel=1e-9)
    assert gain["ci95_low"] <= gain["value"] <= gain["ci95_high"]
    # a sample drawn twice in a resample is not paired with itself: identical sides give exactly 0
    same = bootstrap_gain(kid_score(poly_kernel(x, x), poly_kernel(x, y)),
                          kid_score(poly_kernel(x, x), poly_kernel(x, y)), 60, 60, n_shared=80, n_boot=200)
    assert same["value"] == 0 and same["ci95_low"] == same["ci95_high"] == 0 and same["note"] == NOT_DISTINGUISHABLE


# -- kid ------------------------------------------------------------------------------------------
def test_kid_real_images_beat_a_random_g(digits: dict[str, ImageData], tmp_path: Path) -> None:
    model = StoredImagesGAN(digits["test"].images)  # held-out real digits, drawn by z
    ctx = probe_ctx(tmp_path, digits, model, "digits-kid-fixed", random_model=dcgan_like_random)
    rows = build_probe("kid", **KID).run(ctx)
    gains = _gains(rows)
    assert set(gains) == {"random", "real"}
    random = gains["random"]
    assert (random["metric"], random["variant"]) == ("kid_gain", "trained-random") and random["ci95_low"] > 0 and random["note"] == "above 0"
    assert random["paired"] and "120 generated samples (paired by latent index)" in random["ci_method"]
    assert "300 reference images" in random["ci_method"]
    kid = {r["variant"]: r for r in rows if r["metric"] == "kid"}
    # the full-set difference and the difference of the subset means estimate the same thing
    assert random["value"] == pytest.approx(kid["random"]["value"] - kid["trained"]["value"], rel=0.2)
    real = gains["real"]  # real digits against real digits: no difference to find
    assert not real["paired"] and "359 held-out real images" in real["ci_method"]
    assert real["ci95_low"] <= 0 <= real["ci95_high"] and real["note"] == NOT_DISTINGUISHABLE
    assert NOT_DISTINGUISHABLE in _table_line(rows, "trained-real", "kid")


def test_kid_a_bad_generator_does_not_beat_its_control(digits: dict[str, ImageData], tmp_path: Path) -> None:
    # one grey image for every z, against a data-like control: below 0
    ctx = probe_ctx(tmp_path, digits, dcgan_like_random(1), "digits-kid-fixed",
                    random_model=lambda seed: DataLikeGAN(digits["train"].images))
    gains = _gains(build_probe("kid", **{**KID, "real_control": False}).run(ctx))
    assert gains["random"]["ci95_high"] < 0 and gains["random"]["note"] == "below 0"
    # the control itself as the "trained" G: exactly 0, not distinguishable, and the table says so
    ctx = probe_ctx(tmp_path, digits, dcgan_like_random(1), "digits-kid-fixed", random_model=dcgan_like_random)
    rows = build_probe("kid", **{**KID, "real_control": False}).run(ctx)
    same = _gains(rows)["random"]
    assert same["value"] == 0 and not same["distinguishable"]
    assert NOT_DISTINGUISHABLE in _table_line(rows, "trained-random", "kid")


# -- latent walk ----------------------------------------------------------------------------------
def test_latent_walk_of_the_random_g_itself_gains_nothing(digits: dict[str, ImageData], tmp_path: Path) -> None:
    cfg = {**FAST["latent-walk"], "n_walks": 8, "copy_bank": 1000}
    ctx = probe_ctx(tmp_path, digits, dcgan_like_random(1), "digits-latent-walk", random_model=dcgan_like_random)
    rows = build_probe("latent-walk", **cfg).run(ctx)
    for space in ("fixed", "pixel"):
        gains = _gains(rows, space=space, mode="linear")
        assert gains["random"]["value"] == 0 and gains["random"]["note"] == NOT_DISTINGUISHABLE
        # a G that barely moves is farther from 1 than the copier's jumps: below 0
        assert gains["copying"]["ci95_high"] < 0
    assert NOT_DISTINGUISHABLE in _table_line(rows, "trained-random", "latent-walk")


# -- memorization ---------------------------------------------------------------------------------
def test_memorization_new_real_images_beat_random_and_copying(digits: dict[str, ImageData],
                                                              tmp_path: Path) -> None:
    cfg = {**FAST["memorization"], "n_holdout": 200}
    model = StoredImagesGAN(digits["test"].images)  # digits the search set does not hold
    rows = build_probe("memorization", **cfg).run(probe_ctx(tmp_path, digits, model, "digits-memorization"))
    for space in ("fixed", "pixel"):
        gains = _gains(rows, space=space)
        for control in ("random", "copying"):
            assert gains[control]["ci95_low"] > 0, (space, control)
        assert gains["real"]["ci95_low"] <= 0.5  # as close to 1 as held-out training images


# -- arithmetic -----------------------------------------------------------------------------------
def test_arithmetic_class_structure_in_z_beats_a_random_g(digits: dict[str, ImageData], tmp_path: Path) -> None:
    cfg = {**FAST["arithmetic"], "max_pairs": 10, "targets_per_pair": 4, "copying_control": False}
    model = ClassInZGAN(digits["train"].images, digits["train"].labels)
    ctx = probe_ctx(tmp_path, digits, model, "digits-arithmetic", random_model=dcgan_like_random)
    rows = build_probe("arithmetic", **cfg).run(ctx)
    gains = _gains(rows)
    random = gains["random"]
    assert random["ci95_low"] > 0 and random["paired"] and "10 class pairs" in random["ci_method"]
    assert random["gain_trials"] == pytest.approx(random["value"] * 40) and random["n_trials"] == 40
    lifts = {r["variant"]: r["value"] for r in rows if r["metric"] == "lift"}
    assert random["value"] == pytest.approx(lifts["trained"] - lifts["random"])


def test_arithmetic_of_the_random_g_itself_gains_nothing(digits: dict[str, ImageData], tmp_path: Path) -> None:
    ctx = probe_ctx(tmp_path, digits, dcgan_like_random(1), "digits-arithmetic", random_model=dcgan_like_random)
    rows = build_probe("arithmetic", **{**FAST["arithmetic"], "copying_control": False}).run(ctx)
    same = _gains(rows)["random"]
    assert same["value"] == 0 and same["note"] == NOT_DISTINGUISHABLE
    assert NOT_DISTINGUISHABLE in _table_line(rows, "trained-random", "arithmetic")


# -- svm: the early D -----------------------------------------------------------------------------
def test_svm_gain_over_the_early_d_of_the_same_weights_is_not_distinguishable(
        digits: dict[str, ImageData], tmp_path: Path) -> None:
    from gansuite_probes.testing import build_tiny

    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    ctx = probe_ctx(tmp_path, digits, model, "digits-svm")
    ctx.make_early_model = lambda: model  # type: ignore[attr-defined]  # an "early" D that is the trained D
    rows = build_probe("svm", protocol="full", c_grid=(1e-2,), random_control=False, max_train=500,
                       max_test=100).run(ctx)
    assert [r["variant"] for r in rows] == ["trained", "early", "trained-early"]
    gain = rows[2]
    assert gain["metric"] == "gain_over_early" and gain["value"] == 0 and gain["note"] == NOT_DISTINGUISHABLE
    assert "the early D lacks" in gain["better"] and "100 test images" in gain["ci_method"]
