"""The file-free datasets: fake and digits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gansuite._host.manager import get_catalog
from gansuite._host.options import build_config
from gansuite.contract.errors import OptionError
from gansuite.contract.protocols import ImageDataset


def _dataset(name: str, tmp_path: Path, **options: str) -> ImageDataset:
    spec = get_catalog().registry("datasets").get(name)
    return spec.load_factory()(build_config(spec, options), root=tmp_path)


def test_fake_is_seeded_and_shaped(tmp_path: Path) -> None:
    ds = _dataset("fake", tmp_path, n="50", num_classes="4", size="16", channels="1", seed="3")
    assert isinstance(ds, ImageDataset)
    a, b = ds.load("train"), ds.load("train")
    assert a.images.shape == (50, 1, 16, 16) and a.images.dtype == torch.uint8
    assert a.labels is not None and a.labels.dtype == torch.int64
    assert int(a.labels.max()) < 4
    assert torch.equal(a.images, b.images)
    test = ds.load("test")
    assert len(test) == 256 and not torch.equal(test.images[:50], a.images)
    other = _dataset("fake", tmp_path, n="50", num_classes="4", size="16", channels="1", seed="4")
    assert not torch.equal(other.load("train").images, a.images)


def test_fake_resizes_on_load(tmp_path: Path) -> None:
    ds = _dataset("fake", tmp_path, n="8")
    assert ds.load("train", image_size=64).images.shape == (8, 3, 64, 64)
    assert ds.load("train", image_size=16).images.shape == (8, 3, 16, 16)


def test_fake_rejects_bad_options(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="num_classes"):
        _dataset("fake", tmp_path, num_classes="0")
    with pytest.raises(OptionError, match="split"):
        _dataset("fake", tmp_path).load("validation")


def test_digits_split_is_fixed_and_disjoint(tmp_path: Path) -> None:
    ds = _dataset("digits", tmp_path)
    train, test = ds.load("train"), ds.load("test")
    assert len(train) + len(test) == 1797
    assert len(test) == round(1797 * 0.2)
    assert train.images.shape[1:] == (3, 32, 32) and train.images.dtype == torch.uint8
    assert torch.equal(train.images[:, 0], train.images[:, 2])  # gray repeated
    assert set(train.labels.tolist()) == set(range(10))
    assert int(train.images.max()) == 255 and int(train.images.min()) == 0
    again = _dataset("digits", tmp_path).load("test")
    assert torch.equal(again.images, test.images)
    flat_train = {bytes(x.numpy().tobytes()) for x in train.images}
    overlap = sum(bytes(x.numpy().tobytes()) in flat_train for x in test.images)
    assert overlap == 0  # the 1,797 digits are pairwise distinct, so a disjoint split shares none


def test_digits_upsamples_to_64(tmp_path: Path) -> None:
    data = _dataset("digits", tmp_path).load("train", image_size=64)
    assert data.images.shape[1:] == (3, 64, 64)
    assert data.meta["dataset"] == "digits" and data.meta["split"] == "train"


def test_listing_does_not_need_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from gansuite._host.manager import get_catalog; "
        "names = get_catalog().registry('datasets').names(); "
        "print(sorted(names)); "
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "'digits'" in out.stdout and "'fake'" in out.stdout
