"""Cached Inception reference statistics that are wrong, damaged or not where they should be.

A wrong entry (another entry's files copied over the key, NaN in the cached values) is
recomputed, so the numbers equal a fresh computation's; a file that cannot be read, or a cache
location that is a file, ends in one line naming the file and what to do, with nothing changed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from .helpers import gs, one_line, tree

SMALL = ("-o", "kid.input_size=32", "-o", "kid.n_samples=64", "-o", "kid.subsets=2", "-o", "kid.subset_size=32",
         "-o", "kid.random_control=false", "-o", "kid.real_control=false", "-o", "kid.batch_size=64")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GANSUITE_CACHE", str(folder))
    return folder


def kid(run: Path, extractor: Path, n_reference: int = 128) -> tuple[int, dict]:
    res = gs("eval", run, "--eval", "digits-kid", "-o", f"kid.weights={extractor}", *SMALL,
             "-o", f"kid.n_reference={n_reference}", "--device", "cpu", "--no-progress")
    assert "Traceback" not in res.err, res.err
    if res.code:
        return res.code, {"res": res}
    rows = json.loads((run / "results.json").read_text())
    rows = rows["rows"] if isinstance(rows, dict) else rows
    return 0, rows[-1]


def entries(cache: Path) -> dict[int, Path]:
    """n -> the entry's base path (without the .stats.pt / .features.pt suffix)."""
    out = {}
    for meta in (cache / "inception-reference").glob("*.json"):
        out[json.loads(meta.read_text())["n"]] = meta.with_suffix("")
    return out


def files(base: Path) -> tuple[Path, Path]:
    return base.parent / f"{base.name}.stats.pt", base.parent / f"{base.name}.features.pt"


def test_another_entrys_statistics_copied_over_a_key_are_recomputed(trained, tiny_extractor, cache):
    code, fresh = kid(trained, tiny_extractor, 128)
    assert code == 0 and fresh["reference_cached"] is False
    assert kid(trained, tiny_extractor, 96)[0] == 0
    by_n = entries(cache)
    for src, dst in zip(files(by_n[96]), files(by_n[128]), strict=True):
        shutil.copyfile(src, dst)  # the 96-image entry now sits under the 128-image key
    code, again = kid(trained, tiny_extractor, 128)
    assert code == 0
    assert again["reference_cached"] is False and again["n_reference"] == 128  # recomputed, not trusted
    assert again["value"] == pytest.approx(fresh["value"], rel=1e-6)
    code, third = kid(trained, tiny_extractor, 128)  # the rewritten entry is good again
    assert code == 0 and third["reference_cached"] is True and third["value"] == pytest.approx(fresh["value"])


@pytest.mark.parametrize("what", ["features", "mean"])
def test_nan_in_a_cached_entry_is_recomputed(trained, tiny_extractor, cache, what):
    code, fresh = kid(trained, tiny_extractor)
    assert code == 0
    stats_path, feats_path = files(entries(cache)[128])
    path, key = (feats_path, "features") if what == "features" else (stats_path, "mean")
    obj = torch.load(path, weights_only=True)
    obj[key] = obj[key].clone()
    obj[key].view(-1)[0] = float("nan")
    torch.save(obj, path)
    code, again = kid(trained, tiny_extractor)
    assert code == 0 and again["value"] == again["value"]  # not NaN
    assert again["value"] == pytest.approx(fresh["value"], rel=1e-6)
    assert not torch.isnan(torch.load(path, weights_only=True)[key]).any()  # rewritten


def _crafted(path: Path, protocol: int) -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"features": Payload()}, path, pickle_protocol=protocol)


@pytest.mark.parametrize("damage", ["truncated", "crafted", "crafted4", "empty"])
@pytest.mark.parametrize("which", ["stats", "features"])
def test_unreadable_cache_file_is_one_line_naming_it(trained, tiny_extractor, cache, damage, which):
    assert kid(trained, tiny_extractor)[0] == 0
    stats_path, feats_path = files(entries(cache)[128])
    path = stats_path if which == "stats" else feats_path
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        _crafted(path, 4 if damage == "crafted4" else 2)
    before, run_before = tree(cache), tree(trained)
    code, out = kid(trained, tiny_extractor)
    line = one_line(out["res"], str(path), "delete it")
    if damage.startswith("crafted"):
        assert "crafted" in line
    assert tree(cache) == before and tree(trained) == run_before


def test_cache_pointing_at_a_file(trained, tiny_extractor, tmp_path, monkeypatch):
    target = tmp_path / "not-a-folder"
    target.write_text("x")
    monkeypatch.setenv("GANSUITE_CACHE", str(target))
    before = tree(trained)
    code, out = kid(trained, tiny_extractor)
    one_line(out["res"], str(target), "GANSUITE_CACHE")
    assert tree(trained) == before and target.read_text() == "x"
