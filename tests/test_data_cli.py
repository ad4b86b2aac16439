"""``gansuite data info`` on fixtures."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import write_cifar


def test_info_reports_counts_and_mismatch(tmp_path: Path, cli) -> None:
    write_cifar(tmp_path, per_batch=3)
    code, out, _ = cli("data", "info", "cifar10", "--data-root", str(tmp_path), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["splits"]["train"]["n"] == 15 and report["splits"]["test"]["n"] == 3
    assert report["splits"]["train"]["shape"] == [3, 32, 32]
    assert report["checksums"]["verified"] is False
    assert "data_batch_1" in report["checksums"]["mismatched"]
    assert report["splits"]["train"]["memory_mb"] >= 0 and "load_seconds" in report["splits"]["train"]
    code, text, _ = cli("data", "info", "cifar10", "--data-root", str(tmp_path))
    assert code == 0 and "MISMATCH" in text and "train" in text


def test_info_missing_data_is_one_line(tmp_path: Path, cli) -> None:
    code, out, err = cli("data", "info", "cifar10", "--data-root", str(tmp_path))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "data_batch_1" in err and "Traceback" not in err


def test_info_digits_class_balance(cli, tmp_path: Path) -> None:
    code, out, _ = cli("data", "info", "digits", "--data-root", str(tmp_path), "--json")
    assert code == 0
    report = json.loads(out)
    train = report["splits"]["train"]
    assert sum(train["classes"].values()) == train["n"] == 1438
    assert report["checksums"]["verified"] is None and report["license"]


def test_info_unknown_dataset(cli) -> None:
    code, _, err = cli("data", "info", "cifar11")
    assert code == 2 and "cifar10" in err


def test_info_text_prints_everything_info_returns(tmp_path: Path, cli) -> None:
    write_cifar(tmp_path, per_batch=3)
    code, text, _ = cli("data", "info", "cifar10", "--data-root", str(tmp_path))
    assert code == 0
    for key in ("source:", "license:", "location:", "expected_files:", "data_batch_1", "name:"):
        assert key in text, f"{key} missing from:\n{text}"


def test_show_dataset_gives_size_channels_classes_and_splits(cli) -> None:
    text = cli("show", "cifar10").stdout
    for line in ("splits: train, test", "image size: 32x32", "channels: 3", "classes: 10", "training split: train"):
        assert line in text, f"{line!r} missing from:\n{text}"
    unlabelled = cli("show", "imagefolder").stdout
    assert "classes: not declared" in unlabelled
