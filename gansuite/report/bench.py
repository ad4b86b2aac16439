"""Throughput benchmarks tracked over time: run, save, compare, and the history table.

The benchmarks themselves are pytest-benchmark files (``benchmarks/bench_*.py``); this module
runs them in a subprocess (``python -m pytest benchmarks --benchmark-json ...``) and works on
the JSON report pytest-benchmark writes:

- :func:`save_report` stores it as ``benchmarks/history/<machine>/<date>_<commit>.json``. The
  machine id is hostname-independent (``linux-x86_64-amd-epyc-7b13-2cpu``, plus the CUDA device
  when there is one), so runs of the same hardware line up whoever made them.
- :func:`compare_reports` flags every benchmark whose throughput fell by more than a threshold
  against the last saved run of the same machine and the same mode (quick or full).
- :mod:`gansuite.report.bench_history` turns the saved runs into a table and a PNG.

Throughput is a benchmark's ``extra_info["items_per_s"]`` when it records one (images/s or
items/s, from the median round), else calls per second from the median.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gansuite.engine.runfolder import atomic_write_json
from gansuite.plugin.errors import OptionError, RunError

__all__ = [
    "QUICK_ENV",
    "DEFAULT_THRESHOLD",
    "benchmarks_dir",
    "machine_id",
    "machine_details",
    "run_benchmarks",
    "benchmark_rows",
    "save_report",
    "saved_reports",
    "last_saved",
    "Comparison",
    "compare_reports",
    "report_quick",
    "report_time",
    "load_report",
]

QUICK_ENV = "GANSUITE_BENCH_QUICK"
DEFAULT_THRESHOLD = 0.10
_REPO = Path(__file__).resolve().parents[1]


def benchmarks_dir() -> Path:
    """The ``benchmarks/`` folder of the source tree (gansuite installed in development mode)."""
    for candidate in (_REPO / "benchmarks", Path.cwd() / "benchmarks"):
        if candidate.is_dir():
            return candidate
    raise OptionError(
        "No benchmarks/ folder found next to the gansuite sources or in the current folder; "
        "run 'gansuite bench' from a source checkout (pip install -e .)."
    )


def _slug(text: str) -> str:
    text = re.sub(r"\((r|tm)\)|cpu @.*$|processor|\bwith\b.*$", " ", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            res = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            )
            if res.stdout.strip():
                return res.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    return platform.processor() or "unknown-cpu"


def _cuda_name() -> str | None:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    if not torch.cuda.is_available():
        return None
    return str(torch.cuda.get_device_name(0))


def machine_details() -> dict[str, Any]:
    """What identifies this machine's hardware (recorded in every report)."""
    cuda = _cuda_name()
    return {
        "system": platform.system().lower(),
        "arch": platform.machine().lower(),
        "cpu_model": _cpu_model(),
        "ncpu": os.cpu_count() or 1,
        "cuda_device": cuda,
    }


def machine_id(details: dict[str, Any] | None = None) -> str:
    """A sanitized, hostname-independent id: ``<os>-<arch>-<cpu model>-<n>cpu[-<cuda device>]``."""
    d = details or machine_details()
    parts = [d["system"], d["arch"], _slug(d["cpu_model"]), f"{d['ncpu']}cpu"]
    if d.get("cuda_device"):
        parts.append(_slug(d["cuda_device"]))
    return "-".join(p for p in parts if p)


def run_benchmarks(
    pattern: str | None = None,
    *,
    quick: bool = False,
    json_path: Path,
    bench_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the pytest-benchmark suite in a subprocess and return its JSON report.

    ``pattern`` is a pytest ``-k`` expression over benchmark names (``dcgan``, ``train_step and
    cpu``). Output streams to the terminal. Raises :class:`OptionError` when nothing matches and
    :class:`RunError` when a benchmark fails.
    """
    bench_dir = bench_dir or benchmarks_dir()
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(bench_dir),
        "-p",
        "no:cacheprovider",
        "-q",
        "--benchmark-json",
        str(json_path),
        "--benchmark-sort",
        "fullname",
        "--benchmark-columns",
        "min,median,iqr,rounds",
    ]
    if pattern:
        cmd += ["-k", pattern]
    cmd += list(extra_args)
    full_env = {**os.environ, **(env or {}), QUICK_ENV: "1" if quick else "0"}
    code = subprocess.run(cmd, cwd=bench_dir.parent, env=full_env).returncode
    if code == 5:
        raise OptionError(
            f"No benchmark matches {pattern!r}; names look like "
            "'test_train_step[cpu-dcgan]' (a pytest -k expression)."
        )
    if code != 0:
        raise RunError(f"The benchmark run failed (pytest exit status {code}, see above); nothing saved.")
    try:
        return dict(json.loads(json_path.read_text()))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"pytest-benchmark wrote no readable report at {json_path}: {exc}.") from None


def _gansuite_info(report: dict[str, Any]) -> dict[str, Any]:
    return dict(report.get("machine_info", {}).get("gansuite", {}))


def report_machine(report: dict[str, Any]) -> str:
    """The machine id recorded in a report (computed here for reports made elsewhere)."""
    return str(_gansuite_info(report).get("machine") or machine_id())


def report_quick(report: dict[str, Any]) -> bool:
    return bool(_gansuite_info(report).get("quick", False))


def _throughput(bench: dict[str, Any]) -> float:
    extra = bench.get("extra_info") or {}
    value = extra.get("items_per_s")
    if isinstance(value, (int, float)) and value > 0:
        return float(value)
    median = float(bench["stats"]["median"])
    return 1.0 / median if median > 0 else math.nan


def benchmark_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per benchmark of a report: name, throughput, unit, median, device..."""
    rows = []
    for bench in report.get("benchmarks", []):
        extra = bench.get("extra_info") or {}
        rows.append(
            {
                "benchmark": bench.get("fullname", bench["name"]).split("::")[-1],
                "group": bench.get("group"),
                "throughput": _throughput(bench),
                "unit": extra.get("unit", "items/s") if "items_per_s" in extra else "calls/s",
                "median_s": float(bench["stats"]["median"]),
                "min_s": float(bench["stats"]["min"]),
                "rounds": int(bench["stats"]["rounds"]),
                "device": extra.get("device", "cpu"),
                "dtype": extra.get("dtype"),
                "batch_size": extra.get("batch_size"),
            }
        )
    return rows


def save_report(report: dict[str, Any], history_root: Path) -> Path:
    """Store ``report`` as ``<history_root>/<machine>/<date>_<commit>.json``; returns the path."""
    commit = report.get("commit_info") or {}
    sha = str(commit.get("id") or "nocommit")[:12] + ("-dirty" if commit.get("dirty") else "")
    when = report_time(report).strftime("%Y%m%dT%H%M%SZ")
    path = Path(history_root) / report_machine(report) / f"{when}_{sha}.json"
    atomic_write_json(path, report)
    return path


def report_time(report: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(report["datetime"]))
    except (KeyError, ValueError):
        return datetime.now()


def saved_reports(history_root: Path, machine: str | None = None) -> list[Path]:
    """Saved report files, oldest first (file names start with the UTC date)."""
    root = Path(history_root)
    if not root.is_dir():
        return []
    folders = [root / machine] if machine else sorted(p for p in root.iterdir() if p.is_dir())
    files = [f for d in folders if d.is_dir() for f in d.glob("*.json")]
    return sorted(files, key=lambda f: (f.name, f.parent.name))


def load_report(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"Cannot read the saved benchmark report {path}: {exc}.") from None


def last_saved(history_root: Path, machine: str, quick: bool) -> tuple[Path, dict[str, Any]] | None:
    """The most recent saved report of ``machine`` made in the same mode (quick or full)."""
    for path in reversed(saved_reports(history_root, machine)):
        report = load_report(path)
        if report_quick(report) == quick:
            return path, report
    return None


@dataclass
class Comparison:
    """Per-benchmark throughput change against a previous report."""

    threshold: float
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def slower(self) -> list[str]:
        """Names of the benchmarks slower than the threshold allows."""
        return [r["benchmark"] for r in self.rows if r["status"] == "SLOWER"]


def compare_reports(
    current: dict[str, Any], previous: dict[str, Any], threshold: float = DEFAULT_THRESHOLD
) -> Comparison:
    """Throughput of each benchmark now vs before; ``SLOWER`` below ``(1 - threshold)`` x before."""
    if not 0 < threshold < 1:
        raise OptionError(f"--threshold must lie between 0 and 1 (0.1 = 10%), got {threshold}.")
    before = {r["benchmark"]: r for r in benchmark_rows(previous)}
    result = Comparison(threshold)
    for row in benchmark_rows(current):
        old = before.pop(row["benchmark"], None)
        if old is None:
            result.rows.append({**_cmp_row(row, None), "status": "new"})
            continue
        change = row["throughput"] / old["throughput"] - 1 if old["throughput"] > 0 else math.nan
        status = "SLOWER" if change < -threshold else ("faster" if change > threshold else "ok")
        result.rows.append({**_cmp_row(row, old), "change": change, "status": status})
    for name, old in before.items():
        result.rows.append(
            {
                "benchmark": name,
                "before": old["throughput"],
                "now": math.nan,
                "unit": old["unit"],
                "change": math.nan,
                "status": "gone",
            }
        )
    return result


def _cmp_row(row: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "benchmark": row["benchmark"],
        "before": old["throughput"] if old else math.nan,
        "now": row["throughput"],
        "unit": row["unit"],
        "change": math.nan,
    }
