"""Stored benchmark runs read with their ceilings and load: families, fractions of the ceiling,
and the runs taken on a starved machine.

Every run ``gansuite bench`` stores carries, in ``machine_info["gansuite"]``, the ceilings and
the load measured at its start and end (:mod:`gansuite.engine.ceilings`). From them:

- **The ceiling of a run** is the higher of its two GEMM (and bandwidth) measurements: a rate
  the machine demonstrably reached during the run.
- **Fraction of the ceiling**: GEMM- and convolution-bound work (training step, generation,
  features, evaluation) is its achieved GFLOP/s over the fp32 GEMM rate (``gflop_per_item``
  recorded by the benchmark, or ``engine_gflop_s``); streaming work (SVM fit, dedup) is its
  GB/s of reads over the copy bandwidth (``bytes_per_item``). A benchmark that records neither
  has no fraction.
- **Flagged (starved) runs**, judged per hardware id:

  * a run with ceilings is flagged when the lower of its two GEMM rates is below
    ``STARVED_CEILING`` (half) of the median ceiling of the id's runs that have one, when its
    1-minute load average, before or after, exceeds the core count, or when more than
    ``STARVED_STEAL`` of the CPU time was stolen;
  * a run stored before ceilings were recorded has only its throughput. It is flagged when the
    median, over its benchmarks, of its throughput over the best stored for the same benchmark,
    hardware id and mode is below ``STARVED_THROUGHPUT`` (a quarter). The best, not the median:
    load only ever adds time, and a history in which most runs were starved has a starved
    median. A quarter leaves room for code that got slower; a starved machine is far below it.

Flagged runs stay in tables, marked, and are left out of trends (the plotted lines, the gate's
spread, the run ``--compare`` uses) unless asked for.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from gansuite.report.bench import benchmark_rows, load_report, report_time, saved_reports

__all__ = [
    "FAMILIES",
    "STARVED_CEILING",
    "STARVED_STEAL",
    "STARVED_THROUGHPUT",
    "StoredRun",
    "family_of",
    "run_ceilings",
    "run_load",
    "with_fraction",
    "flag_runs",
    "load_runs",
]

STARVED_CEILING = 0.5
STARVED_STEAL = 0.2
STARVED_THROUGHPUT = 0.25
FAMILIES = ("training step", "generation", "features", "svm", "dedup", "evaluation", "other")
_BOUND = {"training step": "gemm", "generation": "gemm", "features": "gemm", "evaluation": "gemm",
          "svm": "bandwidth", "dedup": "bandwidth"}
_BY_FILE = {"bench_train_throughput.py": "training step", "bench_dedup.py": "dedup", "bench_svm.py": "svm",
            "bench_eval.py": "evaluation"}
_BY_NAME = (("test_train_step", "training step"), ("bench_train_step", "training step"),
            ("test_generator_forward", "generation"), ("test_discriminator_forward", "features"),
            ("test_feature_extraction", "features"), ("test_svm_fit", "svm"), ("test_dedup", "dedup"))


@dataclass(frozen=True)
class StoredRun:
    """One stored report with what was read from it: rows (with fractions), ceilings, load, flags."""

    path: Path
    machine: str
    mode: str
    when: datetime
    commit: str
    rows: list[dict[str, Any]]
    ceilings: dict[str, float] | None
    load: dict[str, float] | None
    flags: tuple[str, ...] = field(default=())

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


def family_of(row: dict[str, Any]) -> str:
    """The benchmark family of a row: its ``family`` extra_info, else its file, else its name."""
    if isinstance(row.get("family"), str) and row["family"] in FAMILIES:
        return str(row["family"])
    file = str(row.get("file_name") or "")
    if file in _BY_FILE:
        return _BY_FILE[file]
    name = str(row.get("benchmark", ""))
    for prefix, fam in _BY_NAME:
        if name.startswith(prefix):
            return fam
    return "other"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _gansuite_info(report: dict[str, Any]) -> dict[str, Any]:
    info = (report.get("machine_info") or {}) if isinstance(report.get("machine_info"), dict) else {}
    out = info.get("gansuite")
    return out if isinstance(out, dict) else {}


def _pair(info: dict[str, Any], key: str) -> list[dict[str, Any]]:
    both = info.get(key)
    if not isinstance(both, dict):
        return []
    return [both[k] for k in ("before", "after") if isinstance(both.get(k), dict)]


def run_ceilings(report: dict[str, Any]) -> dict[str, float] | None:
    """``gemm_fp32_gflops`` (the higher of before/after), ``gemm_fp32_low`` (the lower),
    ``memory_gb_s`` and, on CUDA, ``gemm_bf16_gflops``; None when the run recorded none."""
    samples = _pair(_gansuite_info(report), "ceilings")
    gemm = [v for s in samples if (v := _num(s.get("gemm_fp32_gflops"))) is not None and v > 0]
    if not gemm:
        return None
    out = {"gemm_fp32_gflops": max(gemm), "gemm_fp32_low": min(gemm)}
    for key in ("memory_gb_s", "gemm_bf16_gflops"):
        values = [v for s in samples if (v := _num(s.get(key))) is not None and v > 0]
        if values:
            out[key] = max(values)
    return out


def run_load(report: dict[str, Any]) -> dict[str, float] | None:
    """``load_max`` (1-minute load average, the higher of before/after), ``ncpu`` and
    ``steal_max`` (the largest stolen share of CPU time seen); None when not recorded."""
    info = _gansuite_info(report)
    samples = _pair(info, "load")
    if not samples:
        return None
    loads = [v for s in samples if isinstance(s.get("loadavg"), list) and s["loadavg"]
             and (v := _num(s["loadavg"][0])) is not None]
    steals = [v for s in samples for k in ("steal_fraction", "steal_since_fraction")
              if (v := _num(s.get(k))) is not None]
    ncpu = next((v for s in samples if (v := _num(s.get("ncpu"))) is not None), _num(info.get("ncpu")))
    out: dict[str, float] = {}
    if loads:
        out["load_max"] = max(loads)
    if ncpu:
        out["ncpu"] = ncpu
    if steals:
        out["steal_max"] = max(steals)
    return out or None


def with_fraction(row: dict[str, Any], ceilings: dict[str, float] | None) -> dict[str, Any]:
    """``row`` plus family, bound, achieved (GFLOP/s or GB/s), ceiling and fraction."""
    fam = family_of(row)
    bound = row.get("bound") if row.get("bound") in ("gemm", "bandwidth") else _BOUND.get(fam)
    throughput = _num(row.get("throughput")) if row.get("unit") != "calls/s" else None
    achieved = unit = None
    if bound == "gemm":
        per_item = _num(row.get("gflop_per_item")) or _num(row.get("gflop_per_image"))
        achieved = throughput * per_item if throughput and per_item else _measured_gflops(row)
        unit = "GFLOP/s"
    elif bound == "bandwidth":
        per_item = _num(row.get("bytes_per_item"))
        achieved = throughput * per_item / 1e9 if throughput and per_item else None
        unit = "GB/s"
    ceiling = None
    if ceilings and bound:
        ceiling = ceilings.get("gemm_fp32_gflops" if bound == "gemm" else "memory_gb_s")
        if row.get("device") == "cuda" and bound == "gemm" and "bfloat16" in str(row.get("dtype", "")):
            ceiling = ceilings.get("gemm_bf16_gflops", ceiling)
    fraction = achieved / ceiling if achieved is not None and ceiling else None
    return {**row, "family": fam, "bound": bound, "achieved": achieved, "achieved_unit": unit,
            "ceiling": ceiling, "fraction": fraction}


def _measured_gflops(row: dict[str, Any]) -> float | None:
    """GFLOP/s a benchmark measured itself when it stores no per-item count: the training
    comparison's ``engine_gflop_s``, the evaluation cases' ``achieved_gflops``, or their paired
    ratio times the GEMM rate beside it (a whole eval: ideal seconds over wall seconds)."""
    for key in ("engine_gflop_s", "achieved_gflops"):
        if _num(row.get(key)) is not None:
            return _num(row.get(key))
    ratio, gemm = _num(row.get("ratio_paired")), _num(row.get("gemm_gflops"))
    return ratio * gemm if ratio is not None and gemm is not None else None


def _median(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


def _ceiling_flags(run: StoredRun, id_median: float | None) -> list[str]:
    flags = []
    c, load = run.ceilings, run.load or {}
    if c and id_median and c["gemm_fp32_low"] < STARVED_CEILING * id_median:
        flags.append(f"GEMM {c['gemm_fp32_low']:.3g} GFLOP/s < {STARVED_CEILING:g} x the id's median "
                     f"{id_median:.3g}")
    if load.get("load_max") is not None and load.get("ncpu") and load["load_max"] > load["ncpu"]:
        flags.append(f"load {load['load_max']:.3g} > {load['ncpu']:.0f} cores")
    if load.get("steal_max") is not None and load["steal_max"] > STARVED_STEAL:
        flags.append(f"CPU steal {load['steal_max']:.0%}")
    return flags


def _throughput_flags(run: StoredRun, best: dict[tuple[str, str, str], float]) -> list[str]:
    ratios = [t / b for r in run.rows if (t := _num(r.get("throughput")))
              and (b := best.get((run.machine, run.mode, str(r["benchmark"]))))]
    index = _median(ratios)
    if index is not None and index < STARVED_THROUGHPUT:
        return [f"no ceilings stored; throughput {index:.2g} x the id's best (median over "
                f"{len(ratios)} benchmarks)"]
    return []


def flag_runs(runs: Sequence[StoredRun]) -> list[StoredRun]:
    """``runs`` with ``flags`` set (see the module docstring for the rules)."""
    medians = {}
    for machine in {r.machine for r in runs}:
        medians[machine] = _median(r.ceilings["gemm_fp32_gflops"] for r in runs
                                   if r.machine == machine and r.ceilings)
    best: dict[tuple[str, str, str], float] = {}
    for run in runs:
        for row in run.rows:
            value = _num(row.get("throughput"))
            key = (run.machine, run.mode, str(row["benchmark"]))
            if value and value > best.get(key, 0.0):
                best[key] = value
    out = []
    for run in runs:
        flags = _ceiling_flags(run, medians[run.machine]) if run.ceilings or run.load else []
        if not run.ceilings:
            flags += _throughput_flags(run, best)
        out.append(replace(run, flags=tuple(flags)))
    return out


def load_runs(history_root: Path, machine: str | None = None, mode: str | None = None) -> list[StoredRun]:
    """Every stored run (of ``machine`` and ``mode`` when given), oldest first, validated,
    with fractions and flags. A flag is judged against all stored runs of the same id."""
    root = Path(history_root)
    runs = []
    for path in saved_reports(root, machine):
        report = load_report(path)
        commit: dict[str, Any] = report.get("commit_info") or {}
        ceilings = run_ceilings(report)
        rows = [with_fraction(r, ceilings) for r in benchmark_rows(report, path)]
        runs.append(StoredRun(
            path=path, machine=path.parents[2].name, mode=path.parents[1].name, when=report_time(report),
            commit=str(commit.get("id") or "")[:8] + ("+" if commit.get("dirty") else ""),
            rows=rows, ceilings=ceilings, load=run_load(report)))
    runs.sort(key=lambda r: r.when)
    flagged = flag_runs(runs)
    return [r for r in flagged if mode is None or r.mode == mode]
