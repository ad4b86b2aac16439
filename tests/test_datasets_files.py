"""imagefolder, lsun and imagenet32 on tiny fixtures in their real on-disk formats."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from gansuite_datasets.config import ImageFolderConfig, ImageNet32Config, LsunConfig
from gansuite_datasets.folder import imagefolder, lsun
from gansuite_datasets.imagenet32 import imagenet32
from helpers import encode, image, write_folder, write_imagenet32, write_lsun

from gansuite.contract.errors import CorruptDataError, DataError, MissingDataError


def test_imagefolder_order_classes_and_crop(tmp_path: Path) -> None:
    write_folder(tmp_path)
    data = imagefolder(ImageFolderConfig(path="pics", size=16), root=tmp_path).load("train")
    assert data.images.shape == (3, 3, 16, 16) and data.images.dtype == torch.uint8
    assert data.meta["files"] == ["cats/a.png", "cats/z.jpg", "dogs/b.png"]
    assert data.classes == ("cats", "dogs") and data.labels.tolist() == [0, 0, 1]
    # blue square, green (jpeg), red wide image: center white, corners keep the colour
    assert data.images[0, 2, 0, 0] > 200 and data.images[0, 0, 0, 0] < 30
    assert data.images[2, 0, 0, 0] > 200 and data.images[2, 2, 0, 0] < 30
    assert (data.images[:, :, 8, 8] > 200).all()
    big = imagefolder(ImageFolderConfig(path=str(tmp_path / "pics")), root=Path("/nonexistent"))
    assert big.load("train", image_size=32).images.shape == (3, 3, 32, 32)


def test_imagefolder_flat_folder_has_no_labels(tmp_path: Path) -> None:
    (tmp_path / "flat").mkdir()
    for i in range(2):
        image(12, 12, (i * 100, 0, 0)).save(tmp_path / "flat" / f"{i}.png")
    data = imagefolder(ImageFolderConfig(path="flat", size=8), root=tmp_path).load("train")
    assert len(data) == 2 and data.labels is None


def test_imagefolder_corrupt_and_missing(tmp_path: Path) -> None:
    folder = write_folder(tmp_path)
    (folder / "cats" / "broken.png").write_bytes(encode(image(8, 8, (1, 2, 3)), "PNG")[:30])
    with pytest.raises(CorruptDataError, match="broken.png"):
        imagefolder(ImageFolderConfig(path="pics"), root=tmp_path).load("train")
    with pytest.raises(MissingDataError, match="nowhere"):
        imagefolder(ImageFolderConfig(path="nowhere"), root=tmp_path).load("train")


def test_lsun_reads_lmdb_webp(tmp_path: Path) -> None:
    write_lsun(tmp_path)
    data = lsun(LsunConfig(size=16), root=tmp_path).load("train")
    assert data.images.shape == (4, 3, 16, 16) and data.labels is None
    assert data.images[:, 0, 0, 0].tolist() == sorted(data.images[:, 0, 0, 0].tolist())
    assert len(lsun(LsunConfig(limit=2), root=tmp_path).load("train", image_size=8)) == 2


def test_lsun_corrupt_record_is_named(tmp_path: Path) -> None:
    import lmdb

    path = write_lsun(tmp_path, n=2, fmt="JPEG")
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"zz-broken", b"\xff\xd8\xff\xe0 not really a jpeg")
    env.close()
    with pytest.raises(CorruptDataError, match="zz-broken"):
        lsun(LsunConfig(size=8), root=tmp_path).load("train")


def test_lsun_missing_and_without_lmdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingDataError, match="bedroom_val_lmdb"):
        lsun(LsunConfig(), root=tmp_path).load("val")
    monkeypatch.setitem(sys.modules, "lmdb", None)
    with pytest.raises(DataError, match="gansuite\\[lsun\\]"):
        lsun(LsunConfig(), root=tmp_path).load("train")


def test_lsun_garbage_database(tmp_path: Path) -> None:
    path = tmp_path / "lsun" / "bedroom_train_lmdb"
    path.mkdir(parents=True)
    (path / "data.mdb").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CorruptDataError, match="bedroom_train_lmdb"):
        lsun(LsunConfig(), root=tmp_path).load("train")


def test_imagenet32_batches_and_labels(tmp_path: Path) -> None:
    folder = write_imagenet32(tmp_path)
    ds = imagenet32(ImageNet32Config(), root=tmp_path)
    train, val = ds.load("train"), ds.load("val")
    assert train.images.shape == (6, 3, 32, 32) and len(val) == 3
    with np.load(folder / "val_data.npz") as raw:
        assert val.labels.tolist() == [int(v) - 1 for v in raw["labels"]]
        assert torch.equal(val.images[1].reshape(-1), torch.from_numpy(raw["data"][1]))
    assert train.meta["missing_files"][0] == "train_data_batch_3.npz"
    assert len(imagenet32(ImageNet32Config(limit=4), root=tmp_path).load("train")) == 4


def test_imagenet32_corrupt_and_missing(tmp_path: Path) -> None:
    folder = write_imagenet32(tmp_path)
    (folder / "val_data.npz").write_bytes((folder / "val_data.npz").read_bytes()[:100])
    with pytest.raises(CorruptDataError, match="val_data.npz"):
        imagenet32(ImageNet32Config(), root=tmp_path).load("val")
    with pytest.raises(MissingDataError, match="val_data.npz"):
        imagenet32(ImageNet32Config(folder="elsewhere"), root=tmp_path).load("val")
