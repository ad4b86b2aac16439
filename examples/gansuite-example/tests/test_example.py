"""The example plugin's own tests: gansuite's conformance kit, nothing of gansuite's test suite."""

from __future__ import annotations

import numpy as np

from gansuite.testing import check_dataset, check_model, check_probe


def test_tiny_gan_conforms(tmp_path):
    check_model("tiny-gan", {"width": 4}, tmp_path=tmp_path, image_size=16)


def test_wgan_gp_conforms_with_its_own_step_and_ema(tmp_path):
    row = check_model("example-wgan-gp", {"width": 4, "n_critic": 2, "ema_decay": 0.9},
                      tmp_path=tmp_path, image_size=16)
    assert {"loss_d", "loss_g", "wdist", "gp"} <= set(row)


def test_npz_images_conforms(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "npz-images"
    folder.mkdir()
    for split, n in (("train", 12), ("test", 4)):
        np.savez(folder / f"{split}.npz", images=rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
                 labels=rng.integers(0, 3, n))
    assert check_dataset("npz-images", root=tmp_path, image_size=16, splits=("train", "test")) == {"train": 12, "test": 4}


def test_pixel_stats_conforms(tmp_path):
    rows = check_probe("pixel-stats", {"n_samples": 16}, tmp_path=tmp_path)
    assert {r["metric"] for r in rows} == {"mean_gap", "std_gap"}
