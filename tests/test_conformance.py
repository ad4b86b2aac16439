"""Every registered model, dataset, probe and dedup strategy through ``gansuite.testing``.

Parametrised over the registry: a plugin that registers a name without tiny test settings
here fails ``test_every_registered_name_has_settings`` (as composer refuses an algorithm
without test settings).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_datasets_cifar import write_cifar
from test_datasets_files import write_folder, write_imagenet32, write_lsun
from test_datasets_svhn import write_svhn

from gansuite.plugin.manager import get_catalog
from gansuite.testing import check_dataset, check_dedup, check_model, check_probe

MODELS: dict[str, dict[str, Any]] = {
    "dcgan": {"ngf": 4, "ndf": 4},
    "dcgan-pytorch-examples": {"ngf": 4, "ndf": 4},
    "dcgan-imagenet32": {"widths": (4, 4, 8, 8, 8, 8)},
    "tiny-gan": {},
    "example-wgan-gp": {"width": 4, "n_critic": 2, "ema_decay": 0.9},
    # (lr_decay=linear decays over the run's step limit, which this check raises when it resumes;
    # tests/test_resume_families.py resumes those runs at an unchanged limit)
    "wgan-gp": {"dim": 4, "n_dis": 2, "ema": True},
    "sngan": {"ch": 16, "r1_gamma": 1.0, "ema": True},
    "sngan-projection": {"ch": 16, "n_dis": 2, "num_classes": 4, "ema": True},
}


def _svhn(root: Path) -> None:
    for split in ("train", "test", "extra"):
        write_svhn(root / "svhn", split)


def _npz(root: Path) -> None:
    import numpy as np

    (root / "npz-images").mkdir()
    np.savez(root / "npz-images" / "train.npz", images=np.zeros((4, 8, 8, 3), np.uint8), labels=np.arange(4))


DATASETS: dict[str, tuple[Callable[[Path], Any] | None, dict[str, Any]]] = {
    "digits": (None, {}),
    "fake": (None, {"n": 8}),
    "cifar10": (write_cifar, {"download": False}),
    "svhn": (_svhn, {"download": False}),
    "imagefolder": (write_folder, {"path": "pics", "size": 16}),
    "lsun": (write_lsun, {}),
    "imagenet32": (write_imagenet32, {}),
    "npz-images": (_npz, {}),
}
PROBES: dict[str, dict[str, Any]] = {
    "svm": {"max_iter": 10, "search_iter": 5, "val_size": 40, "c_grid": (0.01,)},
    "latent-walk": {"n_walks": 2, "n_points": 3, "steps": 2},
    "arithmetic": {"n_classifier": 128, "n_pool": 64, "max_pairs": 2, "targets_per_pair": 4},
    "memorization": {"n_samples": 32, "n_holdout": 32},
    "pixel-stats": {},
    "fid": {},
    "kid": {"n_samples": 32, "n_reference": 32, "subset_size": 16, "subsets": 2},
    "guided-backprop": {"n_images": 64, "n_channels": 4, "top_k": 3, "n_boot": 20},
    "forgetting": {"n_classifier": 128, "n_pool": 64, "n_random_draws": 2, "n_boot": 20, "max_iter": 20},
    "cas": {"n_train": 128, "epochs": 1, "width": 4, "n_samples": 40},
}
CONDITIONAL_PROBES = {"cas": "sngan-projection"}  # probes of class-conditional models: run on this one
SLOW_PROBES = {"fid", "kid"}  # the Inception network at 299x299
DEDUP: dict[str, dict[str, Any]] = {"exact": {}, "phash": {}, "ae-hash": {"epochs": 1}}

KINDS = {"models": MODELS, "datasets": DATASETS, "probes": PROBES, "dedup": DEDUP}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_registered_name_has_settings(kind: str) -> None:
    missing = set(get_catalog().registry(kind).names()) - set(KINDS[kind])
    assert not missing, f"add tiny test settings for {sorted(missing)} to tests/test_conformance.py"


def _names(kind: str) -> list[str]:
    return sorted(get_catalog().registry(kind).names())


@pytest.mark.parametrize("name", _names("models"))
def test_model(name: str, tmp_path: Path) -> None:
    row = check_model(name, MODELS[name], tmp_path=tmp_path)
    assert row["step"] == 4


@pytest.mark.parametrize("name", _names("datasets"))
def test_dataset(name: str, tmp_path: Path) -> None:
    writer, options = DATASETS[name]
    if writer is not None:
        writer(tmp_path)
    sizes = check_dataset(name, options, root=tmp_path, image_size=16)
    assert all(n > 0 for n in sizes.values())


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_PROBES else n
                                  for n in _names("probes")])
def test_probe(name: str, tmp_path: Path) -> None:
    if name == "fid":
        pytest.skip("fid needs >= 2,048 samples: covered by tests/test_probes.py")
    model = None
    if name in CONDITIONAL_PROBES:
        import torch

        from gansuite.engine.build import build_model
        from gansuite.plugin.options import build_config

        spec = get_catalog().registry("models").get(CONDITIONAL_PROBES[name])
        torch.manual_seed(0)
        model = build_model(spec, build_config(spec, MODELS[spec.name]), image_size=16, channels=3)
    rows = check_probe(name, PROBES[name], tmp_path=tmp_path, model=model)
    assert rows


@pytest.mark.parametrize("name", _names("dedup"))
def test_dedup(name: str, tmp_path: Path) -> None:
    assert check_dedup(name, DEDUP[name], tmp_path=tmp_path)
