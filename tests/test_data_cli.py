"""``gansuite data info`` on fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_datasets_cifar import write_cifar

from gansuite.cli import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_info_reports_counts_and_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cifar(tmp_path, per_batch=3)
    code, out, _ = _run(["data", "info", "cifar10", "--data-root", str(tmp_path), "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["splits"]["train"]["n"] == 15 and report["splits"]["test"]["n"] == 3
    assert report["splits"]["train"]["shape"] == [3, 32, 32]
    assert report["checksums"]["verified"] is False
    assert "data_batch_1" in report["checksums"]["mismatched"]
    assert report["splits"]["train"]["memory_mb"] >= 0 and "load_seconds" in report["splits"]["train"]
    code, text, _ = _run(["data", "info", "cifar10", "--data-root", str(tmp_path)], capsys)
    assert code == 0 and "MISMATCH" in text and "train" in text


def test_info_missing_data_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["data", "info", "cifar10", "--data-root", str(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "data_batch_1" in err and "Traceback" not in err


def test_info_digits_class_balance(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(["data", "info", "digits", "--data-root", str(tmp_path), "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    train = report["splits"]["train"]
    assert sum(train["classes"].values()) == train["n"] == 1438
    assert report["checksums"]["verified"] is None and report["license"]


def test_info_unknown_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["data", "info", "cifar11"], capsys)
    assert code == 2 and "cifar10" in err
