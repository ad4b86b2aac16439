"""``gansuite dedup`` prints and saves groups in the dataset's own order."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from gansuite.cli import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_dedup_imagefolder_sorted_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    for name, color in [("a.png", (200, 0, 0)), ("c.png", (0, 200, 0)), ("e.png", (0, 0, 200))]:
        Image.new("RGB", (20, 20), color).save(folder / name)
    shutil.copy(folder / "a.png", folder / "d.png")  # order: a, c, d, e
    out_file = tmp_path / "groups.json"
    code, out, err = _run(["dedup", "--dataset", "imagefolder", "--strategy", "exact", "-o", "path=pics",
                           "--data-root", str(tmp_path), "--out", str(out_file), "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["strategy"] == "exact" and report["n"] == 4
    assert report["groups"] == [[0, 2]] and report["removed"] == [2]
    assert json.loads(out_file.read_text())["groups"] == [[0, 2]]


def test_dedup_digits_text_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["dedup", "--dataset", "digits", "--strategy", "exact",
                         "--out", str(tmp_path / "d.json")], capsys)
    assert code == 0 and "1,438 images" in out
    assert json.loads((tmp_path / "d.json").read_text())["n"] == 1438


def test_dedup_bad_option_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(["dedup", "--dataset", "fake", "--strategy", "ae-hash", "-o", "epochs=zero",
                         "--out", str(tmp_path / "x.json")], capsys)
    assert code == 2 and "epochs" in err and "Traceback" not in err
    code, _, err = _run(["dedup", "--dataset", "fake", "--strategy", "ae-hsh"], capsys)
    assert code == 2 and "ae-hash" in err
