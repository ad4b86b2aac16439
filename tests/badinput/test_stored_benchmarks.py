"""Stored benchmark runs (benchmarks/history) and run folders that cannot be read back: every
command that reads them ends in one ``Error:`` line naming the file, exit status 2, and changes
nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gansuite.report import bench

from .helpers import gs, one_line, tree

MACHINE = "linux-x86_64-test-cpu-2cpu"


def _report(median: object = 0.01) -> dict:
    stats = {"min": 0.01, "max": 0.01, "mean": 0.01, "median": median, "rounds": 3}
    return {"machine_info": {}, "commit_info": {"id": "a" * 40}, "datetime": "2024-05-01T10:00:00+00:00",
            "benchmarks": [{"name": "test_x", "fullname": "bench_x.py::test_x", "stats": stats,
                            "extra_info": {"items_per_s": 100.0, "unit": "images/s"}}]}


def _lacks_stats() -> str:
    report = _report()
    del report["benchmarks"][0]["stats"]
    return json.dumps(report)


DAMAGE = {
    "a bare number": "42",
    "no stats": _lacks_stats(),
    'median "abc"': json.dumps(_report("abc")),
    "median NaN": json.dumps(_report(float("nan"))),
    "truncated": json.dumps(_report())[:80],
    "not UTF-8": b"\xff\xfe{}".decode("latin-1"),
    "benchmarks an object": json.dumps({**_report(), "benchmarks": {"a": 1}}),
}


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A history with one good stored run and one damaged beside it (filled in by the test)."""
    root = tmp_path / "history"
    folder = bench.storage_dir(root, MACHINE, True) / "Linux-CPython-3.11-64bit"
    folder.mkdir(parents=True)
    (folder / "0001_good.json").write_text(json.dumps(_report()))
    return root


def _damage(history: Path, how: str) -> Path:
    path = bench.storage_dir(history, MACHINE, True) / "Linux-CPython-3.11-64bit" / "0002_bad.json"
    path.write_bytes(DAMAGE[how].encode("latin-1"))
    return path


@pytest.mark.parametrize("how", list(DAMAGE))
def test_history_refuses_a_damaged_stored_run(history: Path, tmp_path: Path, how: str) -> None:
    _damage(history, how)
    before = tree(history)
    one_line(gs("bench", "history", "--history-dir", history, "--plot", tmp_path / "h.html"), "0002_bad.json")
    assert tree(history) == before and not (tmp_path / "h.html").exists()


@pytest.mark.parametrize("how", ["a bare number", "no stats", 'median "abc"', "truncated"])
def test_report_refuses_a_damaged_stored_run(history: Path, tmp_path: Path, how: str) -> None:
    _damage(history, how)
    before = tree(history)
    page = tmp_path / "b.md"
    one_line(gs("bench", "report", "--history-dir", history, "--out", page, "--results-dir", tmp_path),
             "0002_bad.json")
    assert tree(history) == before and not page.exists()


@pytest.mark.parametrize("how", ["truncated", "a bare number", 'median "abc"'])
def test_compare_refuses_a_damaged_stored_run_before_running(history: Path, tmp_path: Path, how: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Formerly a pytest INTERNALERROR after the benchmarks ran; now refused before any runs."""
    ran: list[object] = []
    monkeypatch.setattr(bench, "machine_id", lambda details=None: MACHINE)
    monkeypatch.setattr(bench, "run_benchmarks", lambda *a, **k: ran.append(a) or 0)
    _damage(history, how)
    before = tree(history)
    one_line(gs("bench", "--quick", "--compare", "--history-dir", history, "--json", tmp_path / "r.json"),
             "0002_bad.json", "move it out of")
    assert not ran and tree(history) == before


# -- run folders read back by 'gansuite results' ---------------------------------------------
@pytest.mark.parametrize("config", [b"[1, 2]", b"\xff\xfe not utf-8", b'{"model": "dcg', None])
def test_results_over_a_folder_with_no_readable_run(tmp_path: Path, config: bytes | None) -> None:
    runs = tmp_path / "runs"
    for name in ("a", "b"):
        (runs / name).mkdir(parents=True)
        (runs / name / "config.json").write_bytes(config if config is not None else b'{"model": "dcgan"}')
    before = tree(runs)
    expected = "no results rows" if config is None else "could be read"
    one_line(gs("results", runs), expected)
    assert tree(runs) == before


@pytest.mark.parametrize("line, what", [("[1, 2]", "not an object"), ('{"step": "abc"}', "step 'abc'"),
                                        ('"text"', "not an object"), ('{"step": true}', "step True")])
def test_results_names_a_metrics_row_gansuite_did_not_write(trained: Path, line: str, what: str) -> None:
    path = trained / "metrics.jsonl"
    rows = path.read_text().splitlines()
    path.write_text("\n".join([rows[0], line, *rows[1:]]) + "\n")
    before = tree(trained)
    one_line(gs("results", trained), "metrics.jsonl line 2", what)
    assert tree(trained) == before


def test_results_ignores_a_torn_last_metrics_line(trained: Path) -> None:
    with (trained / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 5, "loss_d"')
    res = gs("results", trained, "--format", "csv")
    assert res.code == 0 and not res.lines, res.err
