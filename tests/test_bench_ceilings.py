"""Ceilings and load with every stored benchmark run: measuring them, reading throughput as a
fraction of them, and flagging runs taken on a starved machine (the rules, and the committed
history's 2026-12-02 runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import BENCH_MACHINE as MACHINE
from helpers import make_report
from helpers import store_report as store

from gansuite.engine import ceilings
from gansuite.report import bench, bench_runs

REPO = Path(__file__).resolve().parents[1]
XEON = "linux-x86_64-intel-xeon-2cpu"


def with_machine(report: dict[str, Any], gemm: tuple[float, float] | None = None, load: float | None = None,
                 ncpu: int = 2, bandwidth: float = 10.0, steal: float = 0.0) -> dict[str, Any]:
    """``report`` with the ``machine_info`` a ``gansuite bench`` run records."""
    info: dict[str, Any] = {"machine": MACHINE, "ncpu": ncpu}
    if gemm is not None:
        info["ceilings"] = {when: {"gemm_fp32_gflops": g, "memory_gb_s": bandwidth}
                            for when, g in zip(("before", "after"), gemm, strict=True)}
    if load is not None:
        info["load"] = {when: {"loadavg": [load, load, load], "ncpu": ncpu, "steal_fraction": steal}
                        for when in ("before", "after")}
    report["machine_info"]["gansuite"] = info
    return report


def test_measure_ceilings_on_cpu() -> None:
    got = ceilings.measure_ceilings("cpu", gemm_size=256, bandwidth_mib=8, min_seconds=0.02)
    assert got.device == "cpu" and got.timer == "perf_counter" and got.gemm_bf16_gflops is None
    assert 0 < got.gemm_fp32_gflops <= got.gemm_fp32_gflops_best
    assert 0 < got.memory_gb_s <= got.memory_gb_s_best
    assert got.threads >= 1 and got.torch and got.as_dict()["gemm_size"] == 256


def test_a_slower_matmul_gives_a_lower_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: the rate follows the time the matmul takes. Each timed call made 0.5 s
    slower must give at most 2 * 256^3 FLOP per 0.5 s, whatever the machine's load."""
    import time

    real = ceilings._timer

    def slow_timer(device: Any) -> Any:
        timed = real(device)
        return lambda fn: timed(lambda: (fn(), time.sleep(0.5)))

    monkeypatch.setattr(ceilings, "_timer", slow_timer)
    slow = ceilings.measure_ceilings("cpu", gemm_size=256, bandwidth_mib=4, min_seconds=0.01)
    assert 0 < slow.gemm_fp32_gflops_best <= 2.0 * 256**3 / 0.5 / 1e9
    assert slow.memory_gb_s_best <= 2.0 * 4 * 2**20 / 0.5 / 1e9


def test_sample_load_reads_loadavg_and_steal() -> None:
    first = ceilings.sample_load(0.05)
    second = ceilings.sample_load(0.05, since=first)
    if not Path("/proc/stat").exists():
        pytest.skip("no /proc/stat on this system (steal is recorded as None there)")
    assert first.loadavg is not None and len(first.as_dict()["loadavg"]) == 3
    assert 0.0 <= second.steal_since_fraction <= 1.0 and second.since_s > 0
    assert ceilings._steal((0,) * 7 + (0,), (80, 0, 0, 10, 0, 0, 0, 10)) == pytest.approx(0.1)


def test_fraction_of_the_ceiling_by_bound() -> None:
    c = {"gemm_fp32_gflops": 200.0, "gemm_fp32_low": 190.0, "memory_gb_s": 20.0}
    gemm = bench_runs.with_fraction({"benchmark": "test_train_step[dcgan-cpu]", "throughput": 100.0,
                                     "unit": "images/s", "gflop_per_item": 0.5}, c)
    assert gemm["family"] == "training step" and gemm["bound"] == "gemm"
    assert gemm["achieved"] == pytest.approx(50.0) and gemm["fraction"] == pytest.approx(0.25)
    svm = bench_runs.with_fraction({"benchmark": "test_svm_fit[dcgan-cpu]", "throughput": 1000.0,
                                    "unit": "items/s", "bytes_per_item": 4e6}, c)
    assert svm["bound"] == "bandwidth" and svm["fraction"] == pytest.approx(0.2)
    assert bench_runs.with_fraction({"benchmark": "test_x", "throughput": 1.0, "unit": "calls/s"}, c)["fraction"] is None
    assert bench_runs.with_fraction({"benchmark": "test_train_step[a]", "throughput": 1.0, "unit": "images/s",
                                     "gflop_per_item": 1.0}, None)["fraction"] is None


def test_evaluation_cases_get_a_fraction_from_what_they_measured() -> None:
    c = {"gemm_fp32_gflops": 200.0}
    row = {"benchmark": "test_inception_embedding", "file_name": "bench_eval.py", "unit": "images/s"}
    per_image = bench_runs.with_fraction({**row, "throughput": 10.0, "gflop_per_image": 11.0}, c)
    assert per_image["family"] == "evaluation" and per_image["fraction"] == pytest.approx(0.55)
    measured = bench_runs.with_fraction({**row, "unit": "calls/s", "achieved_gflops": 80.0}, c)
    assert measured["fraction"] == pytest.approx(0.4)
    whole = bench_runs.with_fraction({**row, "throughput": 3.0, "ratio_paired": 0.5, "gemm_gflops": 180.0}, c)
    assert whole["achieved"] == pytest.approx(90.0) and whole["fraction"] == pytest.approx(0.45)
    assert bench_runs.with_fraction({**row, "throughput": 3.0}, c)["fraction"] is None


def test_ceiling_load_and_steal_rules(tmp_path: Path) -> None:
    days = iter(range(1, 10))

    def put(report: dict[str, Any]) -> None:
        day = next(days)
        report["datetime"] = f"2024-05-0{day}T10:00:00+00:00"
        store(tmp_path, day, report)

    for gemm in (300.0, 320.0, 310.0):
        put(with_machine(make_report({"test_train_step[a]": 100.0}), gemm=(gemm, gemm), load=1.0))
    put(with_machine(make_report({"test_train_step[a]": 100.0}), gemm=(300.0, 140.0), load=1.0))  # starved at the end
    put(with_machine(make_report({"test_train_step[a]": 100.0}), gemm=(170.0, 180.0), load=1.9))  # slower, not starved
    put(with_machine(make_report({"test_train_step[a]": 100.0}), gemm=(300.0, 300.0), load=2.5))  # load > cores
    put(with_machine(make_report({"test_train_step[a]": 100.0}), gemm=(300.0, 300.0), load=1.0, steal=0.3))
    runs = bench_runs.load_runs(tmp_path)
    flags = [r.flags for r in runs]
    assert flags[:3] == [(), (), ()] and flags[4] == ()
    assert "GEMM 140 GFLOP/s < 0.5 x the id's median 300" in flags[3][0]
    assert flags[5] == ("load 2.5 > 2 cores",)
    assert flags[6] == ("CPU steal 30%",)


def test_runs_without_ceilings_are_judged_against_the_ids_best(tmp_path: Path) -> None:
    speeds = [1300.0, 900.0, 25.0, 22.0, 28.0, 24.0]  # most of them starved: the median is too
    for day, ips in enumerate(speeds, 1):
        store(tmp_path, day, make_report({"bench_x[cpu]": ips, "test_y": ips / 10},
                                         when=f"2024-05-0{day}T10:00:00+00:00"))
    runs = bench_runs.load_runs(tmp_path)
    assert [r.flagged for r in runs] == [False, False, True, True, True, True]
    assert "no ceilings stored; throughput 0.019 x the id's best" in runs[2].flags[0]


def test_the_committed_starved_runs_are_flagged() -> None:
    """The 2026-12-02 runs of the Xeon id (engine and hand-written loop ~50x slower) are flagged;
    the runs before them are not."""
    runs = [r for r in bench_runs.load_runs(REPO / "benchmarks" / "history", XEON) if r.mode == "quick"]
    by_day = {r.path.name: r for r in runs}
    starved = [name for name, r in by_day.items() if "_20261202_" in name]
    assert len(starved) == 6
    assert all(by_day[name].flagged for name in starved)
    assert not any(r.flagged for name, r in by_day.items() if "_2026112" in name)


def test_cli_history_flags_the_starved_runs_of_the_committed_history(cli: Any, tmp_path: Path) -> None:
    res = cli("bench", "history", "--plot", str(tmp_path / "h.html"))
    assert res.returncode == 0, res.stderr
    flagged = [line for line in res.stdout.splitlines() if line.startswith(XEON) and "2026-12-02" in line]
    assert len(flagged) == 6 and all("throughput 0.0" in line for line in flagged)
    assert "flagged as taken on a starved machine" in res.stderr
    assert (tmp_path / "h-training-step.png").is_file() and (tmp_path / "h.html").is_file()


@pytest.mark.slow
def test_a_stored_run_records_ceilings_and_load(tmp_path: Path) -> None:
    """A real (one-benchmark) run through pytest-benchmark stores both ceilings and both loads."""
    out = tmp_path / "r.json"
    env = {**os.environ, "GANSUITE_BENCH_QUICK": "1"}
    res = subprocess.run([sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-q", "-p", "no:cacheprovider",
                          "-k", "test_bucketing_scales and 1", f"--benchmark-json={out}"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:]
    report = json.loads(out.read_text())
    info = report["machine_info"]["gansuite"]
    assert set(info["ceilings"]) == {"before", "after"} and set(info["load"]) == {"before", "after"}
    assert info["ceilings"]["before"]["gemm_fp32_gflops"] > 0 and info["load"]["after"]["since_s"] > 0
    row = bench_runs.with_fraction(bench.benchmark_rows(report)[0], bench_runs.run_ceilings(report))
    assert row["bound"] == "bandwidth" and 0 < row["fraction"] < 1.5


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.skipif(not _cuda(), reason="no CUDA device on this machine (torch.cuda.is_available() is False)")
def test_cuda_ceilings_and_hardware_id() -> None:
    """On a GPU: bf16 and fp32 GEMM rates timed with CUDA events, the GPU's name in the id."""
    import torch

    got = ceilings.measure_ceilings("cuda", gemm_size=2048, bandwidth_mib=256, min_seconds=0.1)
    name = torch.cuda.get_device_name(0)
    assert got.timer == "cuda-events" and got.device_name == name and got.cuda == torch.version.cuda
    assert got.gemm_bf16_gflops is not None and got.gemm_bf16_gflops > got.gemm_fp32_gflops > 0
    assert got.memory_gb_s > 0
    details = bench.machine_details()
    assert details["cuda_device"] == name and bench._slug(name) in bench.machine_id(details)
