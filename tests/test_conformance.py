"""Every registered model, dataset, probe and dedup strategy through ``gansuite.testing``.

Parametrised over the registry: a plugin that registers a name without tiny test settings
here fails ``test_every_registered_name_has_settings`` (as composer refuses an algorithm
without test settings).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import write_cifar, write_folder, write_imagenet32, write_lsun, write_npz, write_svhn

from gansuite._host.manager import get_catalog
from gansuite.testing import check_dataset, check_dedup, check_model, check_probe

MODELS: dict[str, dict[str, Any]] = {
    "dcgan": {"ngf": 4, "ndf": 4},
    "dcgan-pytorch-examples": {"ngf": 4, "ndf": 4},
    "dcgan-imagenet32": {"widths": (4, 4, 8, 8, 8, 8)},
    "tiny-gan": {},
    "example-wgan-gp": {"width": 4, "n_critic": 2, "ema_decay": 0.9},
    "wgan-gp": {"dim": 4, "n_dis": 2, "ema": True},
    "sngan": {"ch": 16},
    "sngan-projection": {"ch": 16, "n_dis": 2, "ema": True},
}


def _svhn(root: Path) -> None:
    for split in ("train", "test", "extra"):
        write_svhn(root / "svhn", split)


DATASETS: dict[str, tuple[Callable[[Path], Any] | None, dict[str, Any]]] = {
    "digits": (None, {}),
    "fake": (None, {"n": 8}),
    "cifar10": (write_cifar, {"download": False}),
    "svhn": (_svhn, {"download": False}),
    "imagefolder": (write_folder, {"path": "pics", "size": 16}),
    "lsun": (write_lsun, {}),
    "imagenet32": (write_imagenet32, {}),
    "npz-images": (write_npz, {}),
}
_INCEPTION_ONLY = {"real_control": False, "random_control": False, "cache": False}
PROBES: dict[str, dict[str, Any]] = {
    "svm": {"max_iter": 10, "search_iter": 5, "val_size": 40, "c_grid": (0.01,)},
    "latent-walk": {"n_walks": 2, "n_points": 3, "steps": 2},
    "arithmetic": {"n_classifier": 128, "n_pool": 64, "max_pairs": 2, "targets_per_pair": 4, "min_trials": 8},
    "memorization": {"n_samples": 32, "n_holdout": 32},
    "pixel-stats": {},
    "fid": {},
    "cas": {},
    "gan-test": {},
    "cas-score": {},
    "guided-backprop": {"n_images": 64, "n_channels": 4, "top_k": 3, "n_boot": 20},
    "forgetting": {"n_classifier": 128, "n_pool": 64, "n_random_draws": 2, "n_boot": 20, "max_iter": 20},
    # Inception probes: one subject, no disk cache (check_probe gives every split the same images).
    "kid": {"n_samples": 32, "n_reference": 32, "subset_size": 16, "subsets": 2, **_INCEPTION_ONLY},
    "prdc": {"n_samples": 32, "n_reference": 32, **_INCEPTION_ONLY},
    "is": {"n_samples": 32, "splits": 2, **_INCEPTION_ONLY},
}
SLOW_PROBES = {"fid", "kid", "prdc", "is"}  # the Inception network at 299x299
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


# The options that change what a resume must restore: EMA weights, a learning-rate schedule over
# ctx.total_steps and the R1 penalty (sngan-projection is the conditional one). check_model cuts
# its run where a Ctrl-C would, so the schedule sees the same total before and after the cut.
EXTRAS: dict[str, Any] = {"ema": "true", "lr_decay": "linear", "r1_gamma": "1.0"}


def _extras(name: str) -> dict[str, Any]:
    fields = {f.name for f in get_catalog().registry("models").get(name).option_fields()}
    return {k: v for k, v in EXTRAS.items() if k in fields}


def _with_extras() -> list[str]:
    return [n for n in _names("models") if _extras(n)]


def test_the_reference_families_have_the_extras() -> None:
    assert {"wgan-gp", "sngan", "sngan-projection"} <= set(_with_extras())


@pytest.mark.parametrize("name", _with_extras())
def test_model_with_lr_decay_and_ema(name: str, tmp_path: Path) -> None:
    """``-o lr_decay=linear -o ema=true``, as a user writes it."""
    row = check_model(name, {**MODELS[name], "lr_decay": "linear", "ema": "true"}, tmp_path=tmp_path)
    assert row["step"] == 4 and 0 < row["lr_scale"] < 1


def _combinations(name: str) -> list[dict[str, Any]]:
    extras = sorted(_extras(name))
    return [dict((k, EXTRAS[k]) for k in subset)
            for r in range(1, len(extras) + 1) for subset in itertools.combinations(extras, r)]


@pytest.mark.slow
@pytest.mark.parametrize("name,extras", [pytest.param(n, c, id=f"{n}-{'+'.join(c)}")
                                         for n in _with_extras() for c in _combinations(n)])
def test_model_with_every_combination_of_extras(name: str, extras: dict[str, Any], tmp_path: Path) -> None:
    row = check_model(name, {**MODELS[name], **extras}, tmp_path=tmp_path)
    assert row["step"] == 4
    if "r1_gamma" in extras:
        assert row["r1"] >= 0


@pytest.mark.parametrize("name", _names("datasets"))
def test_dataset(name: str, tmp_path: Path) -> None:
    writer, options = DATASETS[name]
    if writer is not None:
        writer(tmp_path)
    sizes = check_dataset(name, options, root=tmp_path, image_size=16)
    assert all(n > 0 for n in sizes.values())


# fid needs >= 2,048 samples through Inception (tests/test_fid.py); gan-test and cas-score (and
# the deprecated cas) refuse the kit's
# unconditional tiny model by design (tests/test_probes.py runs it on a conditional one).
COVERED_ELSEWHERE = {"fid", "cas", "gan-test", "cas-score"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_PROBES else n
                                  for n in _names("probes") if n not in COVERED_ELSEWHERE])
def test_probe(name: str, tmp_path: Path) -> None:
    options = dict(PROBES[name])
    if name == "is":  # the bundled network has no classifier layer: a random one of the right shape
        import torch

        torch.save({"fc.weight": torch.randn(10, 2048)}, str(tmp_path / "fc.pth"))
        options["logits_weights"] = str(tmp_path / "fc.pth")
    rows = check_probe(name, options, tmp_path=tmp_path)
    assert rows


@pytest.mark.parametrize("name", _names("dedup"))
def test_dedup(name: str, tmp_path: Path) -> None:
    assert check_dedup(name, DEDUP[name], tmp_path=tmp_path)
