"""svhn on a tiny fixture written with scipy.io.savemat (the real .mat layout)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from gansuite_datasets.config import SvhnConfig
from gansuite_datasets.svhn import MD5, svhn
from helpers import write_svhn

from gansuite.contract.errors import CorruptDataError, MissingDataError

OFFLINE = SvhnConfig(download=False)


def test_loads_nchw_and_maps_label_10_to_0(tmp_path: Path) -> None:
    x = write_svhn(tmp_path / "svhn")
    data = svhn(OFFLINE, root=tmp_path).load("train")
    assert data.images.shape == (5, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.labels is not None and data.labels.tolist() == [0, 1, 2, 0, 9]
    # image 2, channel 1, row 3, column 4 is X[3, 4, 1, 2]
    assert int(data.images[2, 1, 3, 4]) == int(x[3, 4, 1, 2])


def test_torchvision_layout_files_in_root(tmp_path: Path) -> None:
    write_svhn(tmp_path, "test", n=3)
    assert len(svhn(OFFLINE, root=tmp_path).load("test")) == 3


def test_mismatch_and_missing(tmp_path: Path) -> None:
    write_svhn(tmp_path / "svhn")
    ds = svhn(OFFLINE, root=tmp_path)
    result = ds.verify()
    assert result.verified is False and list(result.mismatched) == ["train_32x32.mat"]
    with pytest.raises(MissingDataError, match="extra_32x32.mat"):
        ds.load("extra")


def test_truncated_mat_is_named(tmp_path: Path) -> None:
    write_svhn(tmp_path / "svhn")
    path = tmp_path / "svhn" / "train_32x32.mat"
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CorruptDataError, match="train_32x32.mat"):
        svhn(OFFLINE, root=tmp_path).load("train")


def test_md5_table_matches_torchvision() -> None:
    from torchvision.datasets import SVHN

    assert {v[1]: v[2] for v in SVHN.split_list.values()} == MD5
