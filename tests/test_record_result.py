"""benchmarks/record_result.py: a pytest-benchmark report becomes a record docs/benchmarks.md shows."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import load_script

from gansuite.report import benchdoc

ROOT = Path(__file__).resolve().parents[1]


def _module():
    return load_script("record_result")


def test_report_becomes_a_record_the_benchmark_page_shows(tmp_path: Path) -> None:
    report = {"datetime": "2026-12-02T07:00:00", "commit_info": {"id": "abcdef1234567890"},
              "benchmarks": [{"name": "test_solver", "stats": {"median": 2.5},
                              "extra_info": {"speedup": 7.25, "prediction_agreement": 0.995, "n_train": 50000}}]}
    (tmp_path / "r.json").write_text(json.dumps(report))
    results = tmp_path / "results"
    code = _module().main([str(tmp_path / "r.json"), "--out", str(results / "svm.json"), "--title", "SVM vs LinearSVC",
                           "--command", "pytest ...", "--note", "a note", "--column", "speedup",
                           "--column", "prediction_agreement"])
    assert code == 0
    record = json.loads((results / "svm.json").read_text())
    assert record["rows"] == [{"benchmark": "test_solver", "median_s": 2.5, "speedup": 7.25,
                               "prediction_agreement": 0.995}]
    assert record["source"].endswith("abcdef1234") and record["date"] == "2026-12-02"
    page = benchdoc.render(tmp_path / "history", results)
    assert "SVM vs LinearSVC" in page and "7.25" in page
    assert "ceilings" not in record  # the report measured none


def test_a_record_carries_the_ceilings_and_load_of_its_run(tmp_path: Path) -> None:
    ceilings = {w: {"gemm_fp32_gflops": g, "memory_gb_s": 12.0} for w, g in (("before", 300.0), ("after", 280.0))}
    load = {w: {"loadavg": [3.0, 2.0, 1.0], "ncpu": 2, "steal_fraction": 0.0} for w in ("before", "after")}
    report = {"datetime": "2026-12-02T07:00:00", "commit_info": {"id": "abcdef1234567890"},
              "machine_info": {"gansuite": {"ceilings": ceilings, "load": load}},
              "benchmarks": [{"name": "test_solver", "stats": {"median": 2.5, "rounds": 3}, "extra_info": {}}]}
    (tmp_path / "r.json").write_text(json.dumps(report))
    out = tmp_path / "results" / "r.json"
    assert _module().main([str(tmp_path / "r.json"), "--out", str(out), "--title", "T", "--command", "c"]) == 0
    record = json.loads(out.read_text())
    assert record["ceilings"] == {"gemm_fp32_gflops": 300.0, "gemm_fp32_low": 280.0, "memory_gb_s": 12.0,
                                  "load_max": 3.0, "ncpu": 2.0, "steal_max": 0.0}
    page = benchdoc.render(tmp_path / "history", out.parent)
    assert "Ceilings and load measured in the run: gemm_fp32_gflops 300," in page


def test_unreadable_report_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    code = _module().main([str(tmp_path / "missing.json"), "--out", str(tmp_path / "x.json"), "--title", "t",
                           "--command", "c"])
    assert code == 2 and "Cannot read" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_report_and_run_folder_are_exclusive(tmp_path: Path, capsys) -> None:
    mod = _module()
    assert mod.main(["--out", str(tmp_path / "x.json"), "--title", "t", "--command", "c"]) == 2
    assert mod.main([str(tmp_path / "r.json"), "--run", str(tmp_path), "--out", str(tmp_path / "x.json"),
                     "--title", "t", "--command", "c"]) == 2
    assert "one of them" in capsys.readouterr().err
    assert mod.main(["--run", str(tmp_path / "no-run"), "--out", str(tmp_path / "x.json"), "--title", "t",
                     "--command", "c"]) == 2
    assert not (tmp_path / "x.json").exists()


def test_a_run_record_carries_its_rows_provenance() -> None:
    mod = _module()
    rows = [{"data_verified": False, "data_provenance": "a JPEG rebuild", "commit": "1227f8ef265e99"},
            {"data_verified": True, "data_provenance": "a JPEG rebuild", "commit": "1227f8ef265e99"}]
    assert mod._run_provenance(rows) == {"data_verified": False, "data_provenance": "a JPEG rebuild",
                                         "commit": "1227f8ef265e"}
    assert mod._run_provenance([{"data_verified": True}]) == {"data_verified": True}
    assert mod._run_provenance([{"value": 1.0}]) == {"data_verified": None}  # unknown, said so
