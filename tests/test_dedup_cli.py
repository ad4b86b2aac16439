"""``gansuite dedup`` prints and saves groups in the dataset's own order."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PIL import Image


def test_dedup_imagefolder_sorted_order(tmp_path: Path, cli) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    for name, color in [("a.png", (200, 0, 0)), ("c.png", (0, 200, 0)), ("e.png", (0, 0, 200))]:
        Image.new("RGB", (20, 20), color).save(folder / name)
    shutil.copy(folder / "a.png", folder / "d.png")  # order: a, c, d, e
    out_file = tmp_path / "groups.json"
    code, out, err = cli("dedup", "--dataset", "imagefolder", "--strategy", "exact", "-o", "path=pics",
                           "--data-root", str(tmp_path), "--out", str(out_file), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["strategy"] == "exact" and report["n"] == 4
    assert report["groups"] == [[0, 2]] and report["removed"] == [2]
    assert json.loads(out_file.read_text())["groups"] == [[0, 2]]


def test_dedup_digits_text_output(tmp_path: Path, cli) -> None:
    code, out, _ = cli("dedup", "--dataset", "digits", "--strategy", "exact",
                         "--out", str(tmp_path / "d.json"))
    assert code == 0 and "1,438 images" in out
    assert json.loads((tmp_path / "d.json").read_text())["n"] == 1438


def test_dedup_bad_option_is_one_line(cli, tmp_path: Path) -> None:
    code, _, err = cli("dedup", "--dataset", "fake", "--strategy", "ae-hash", "-o", "epochs=zero",
                         "--out", str(tmp_path / "x.json"))
    assert code == 2 and "epochs" in err and "Traceback" not in err
    code, _, err = cli("dedup", "--dataset", "fake", "--strategy", "ae-hsh")
    assert code == 2 and "ae-hash" in err
