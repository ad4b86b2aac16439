"""cifar10 on a tiny fixture written in the real python-pickle layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from gansuite_datasets.cifar import MD5, cifar10
from gansuite_datasets.config import Cifar10Config
from helpers import write_cifar

from gansuite.contract.errors import CorruptDataError, MissingDataError

OFFLINE = Cifar10Config(download=False)


def test_loads_splits_in_official_order(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    ds = cifar10(OFFLINE, root=tmp_path)
    train, test = ds.load("train"), ds.load("test")
    assert train.images.shape == (20, 3, 32, 32) and train.images.dtype == torch.uint8
    assert test.images.shape == (4, 3, 32, 32)
    assert train.images[:, 0, 0, 0].tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4
    assert train.labels is not None and train.labels[:5].tolist() == [0, 1, 2, 3, 1]
    assert train.classes[0] == "airplane"
    assert ds.load("train", image_size=64).images.shape == (20, 3, 64, 64)


def test_checksum_mismatch_names_files(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    result = cifar10(OFFLINE, root=tmp_path).verify()
    assert result.verified is False
    assert "data_batch_1" in result.mismatched and "test_batch" in result.mismatched
    assert set(result.checked) == set(MD5)


def test_missing_files_one_line(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError) as err:
        cifar10(OFFLINE, root=tmp_path).load("test")
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "cifar-10-batches-py") in message and "test_batch" in message
    assert "cifar-10-python.tar.gz" in message


def test_truncated_pickle_is_named(tmp_path: Path) -> None:
    folder = write_cifar(tmp_path)
    blob = (folder / "data_batch_3").read_bytes()
    (folder / "data_batch_3").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CorruptDataError, match="data_batch_3"):
        cifar10(OFFLINE, root=tmp_path).load("train")


def test_md5_table_matches_torchvision() -> None:
    from torchvision.datasets import CIFAR10

    official = dict(CIFAR10.train_list + CIFAR10.test_list)
    official[CIFAR10.meta["filename"]] = CIFAR10.meta["md5"]
    assert official == MD5


def test_downloads_when_missing_and_online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.utils as tv_utils
    from gansuite_datasets import cifar

    calls = []

    def fake_download(url: str, download_root: str, **kwargs: object) -> None:
        calls.append((url, download_root, kwargs.get("md5")))
        write_cifar(Path(download_root), per_batch=2)

    monkeypatch.setattr(cifar, "online", lambda url, timeout=3.0: True)
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download)
    data = cifar10(Cifar10Config(download=True), root=tmp_path).load("test")
    assert len(data) == 2
    assert calls == [(cifar.URL, str(tmp_path), cifar.ARCHIVE_MD5)]


def test_offline_does_not_try_to_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gansuite_datasets import cifar

    monkeypatch.setattr(cifar, "online", lambda url, timeout=3.0: False)
    with pytest.raises(MissingDataError, match="offline"):
        cifar10(Cifar10Config(download=True), root=tmp_path).load("train")
