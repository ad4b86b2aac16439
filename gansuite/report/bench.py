"""``gansuite bench``: pytest-benchmark runs, stored and compared by pytest-benchmark itself.

The benchmarks are pytest-benchmark files (``benchmarks/bench_*.py``), run in a subprocess.
pytest-benchmark stores the runs (``--benchmark-storage``, ``--benchmark-autosave``) and fails a
run that regressed against the last stored one (``--benchmark-compare`` with
``--benchmark-compare-fail``). What this module adds is the storage folder: one per hardware id
and mode, ``benchmarks/history/<hardware id>/<quick|full>/``, so runs of the same hardware line
up whoever made them and a quick pass is never compared with a full one. pytest-benchmark keeps
its own ``<os>-<python>-<bits>`` folder inside, and files ``NNNN_<commit>_<date>.json``.

:func:`benchmark_rows` reads a stored report for the history plot and ``docs/benchmarks.md``:
throughput is a benchmark's ``extra_info["items_per_s"]`` when it records one, else calls/s.
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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gansuite.contract.errors import OptionError, RunError

__all__ = [
    "QUICK_ENV",
    "DEFAULT_COMPARE_FAIL",
    "benchmarks_dir",
    "machine_details",
    "machine_id",
    "mode_name",
    "storage_dir",
    "saved_reports",
    "load_report",
    "check_reports",
    "report_time",
    "benchmark_rows",
    "pytest_args",
    "run_benchmarks",
]

QUICK_ENV = "GANSUITE_BENCH_QUICK"
DEFAULT_COMPARE_FAIL = "median:10%"
_REPO = Path(__file__).resolve().parents[2]


def benchmarks_dir() -> Path:
    """The ``benchmarks/`` folder of the source tree (gansuite installed in development mode)."""
    for candidate in (_REPO / "benchmarks", Path.cwd() / "benchmarks"):
        if candidate.is_dir():
            return candidate
    raise OptionError(
        "No benchmarks/ folder found next to the gansuite sources or in the current folder; "
        "run 'gansuite bench' from a source checkout (pip install -e .)."
    )


# -- the hardware id ----------------------------------------------------------------------------
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
    import torch

    return str(torch.cuda.get_device_name(0)) if torch.cuda.is_available() else None


def machine_details() -> dict[str, Any]:
    """What identifies this machine's hardware (recorded in every report)."""
    return {
        "system": platform.system().lower(),
        "arch": platform.machine().lower(),
        "cpu_model": _cpu_model(),
        "ncpu": os.cpu_count() or 1,
        "cuda_device": _cuda_name(),
    }


def machine_id(details: dict[str, Any] | None = None) -> str:
    """A sanitized, hostname-independent id: ``<os>-<arch>-<cpu model>-<n>cpu[-<cuda device>]``."""
    d = details or machine_details()
    parts = [d["system"], d["arch"], _slug(d["cpu_model"]), f"{d['ncpu']}cpu"]
    if d.get("cuda_device"):
        parts.append(_slug(d["cuda_device"]))
    return "-".join(p for p in parts if p)


# -- storage ------------------------------------------------------------------------------------
def mode_name(quick: bool) -> str:
    return "quick" if quick else "full"


def storage_dir(history_root: Path, machine: str, quick: bool) -> Path:
    """pytest-benchmark's ``--benchmark-storage`` for one hardware id and mode."""
    return Path(history_root) / machine / mode_name(quick)


def saved_reports(history_root: Path, machine: str | None = None, mode: str | None = None) -> list[Path]:
    """Stored reports (``<machine>/<mode>/<platform>/NNNN_*.json``), in storage order."""
    root = Path(history_root)
    pattern = f"{machine or '*'}/{mode or '*'}/*/[0-9][0-9][0-9][0-9]_*.json"
    return sorted(root.glob(pattern), key=lambda p: (p.parents[2].name, p.parents[1].name, p.name))


def _report_problem(report: Any) -> str | None:
    """What makes ``report`` unreadable as a pytest-benchmark report (None when it is fine)."""
    if not isinstance(report, dict):
        return f"it holds a JSON {type(report).__name__}, not an object"
    if not isinstance(report.get("benchmarks"), list):
        return "it has no 'benchmarks' list"
    for i, bench in enumerate(report["benchmarks"]):
        where = f"benchmark {i + 1}"
        if not isinstance(bench, dict) or not isinstance(bench.get("name"), str):
            return f"{where} is not an object with a 'name'"
        stats = bench.get("stats")
        if not isinstance(stats, dict):
            return f"{where} ({bench['name']}) has no 'stats'"
        median, rounds = stats.get("median"), stats.get("rounds")
        if isinstance(median, bool) or not isinstance(median, (int, float)) or not median >= 0 \
                or not math.isfinite(median):
            return f"{where} ({bench['name']}) has median {median!r}, not a time in seconds"
        if rounds is not None and (isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1):
            return f"{where} ({bench['name']}) has rounds {rounds!r}, not a positive count"
        if not isinstance(bench.get("extra_info") or {}, dict):
            return f"{where} ({bench['name']}) has an 'extra_info' that is not an object"
    for key in ("machine_info", "commit_info"):
        if not isinstance(report.get(key) or {}, dict):
            return f"its '{key}' is not an object"
    return None


def load_report(path: Path) -> dict[str, Any]:
    """A stored pytest-benchmark report, checked: a :class:`RunError` names the file, what is
    wrong with it and what to do, instead of a traceback later."""
    path = Path(path)
    fix = f"move it out of {path.parent} (or delete it) and rerun"
    try:
        report = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunError(f"Cannot read the stored benchmark run {path} ({text}); {fix}.") from None
    problem = _report_problem(report)
    if problem:
        raise RunError(f"The stored benchmark run {path} is not a pytest-benchmark report: {problem}; {fix}.")
    return dict(report)


def check_reports(paths: Sequence[Path]) -> None:
    """Read every stored report in ``paths`` (raises on the first unreadable one)."""
    for path in paths:
        load_report(path)


def report_time(report: dict[str, Any]) -> datetime:
    try:
        when = datetime.fromisoformat(str(report["datetime"]))
    except (KeyError, ValueError):
        return datetime.fromtimestamp(0, tz=timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _throughput(bench: dict[str, Any]) -> float:
    value = (bench.get("extra_info") or {}).get("items_per_s")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 and math.isfinite(value):
        return float(value)
    median = float(bench["stats"]["median"])
    return 1.0 / median if median > 0 else math.nan


def benchmark_rows(report: dict[str, Any], path: Path | None = None) -> list[dict[str, Any]]:
    """One flat row per benchmark of a report (checked as :func:`load_report` does; ``path``
    names it in the error): name, file, throughput and unit, median time, rounds, then
    everything the benchmark put in ``extra_info``."""
    problem = _report_problem(report)
    if problem:
        raise RunError(f"The benchmark report {path or ''} is not a pytest-benchmark report: {problem}.")
    rows = []
    for bench in report["benchmarks"]:
        extra = dict(bench.get("extra_info") or {})
        fullname = str(bench.get("fullname") or bench["name"])
        rows.append({
            **extra,
            "benchmark": fullname.split("::")[-1],
            "file_name": Path(fullname.split("::")[0]).name if "::" in fullname else None,
            "throughput": _throughput(bench),
            "unit": extra.get("unit", "items/s") if "items_per_s" in extra else "calls/s",
            "median_s": float(bench["stats"]["median"]),
            "rounds": bench["stats"].get("rounds"),
        })
    return rows


# -- running ------------------------------------------------------------------------------------
def pytest_args(pattern: str | None, *, storage: Path, json_path: Path, save: bool = False,
                compare_fail: str | None = None, compare_to: Path | None = None) -> list[str]:
    """The pytest command line of one benchmark run (after ``python -m pytest benchmarks``);
    ``compare_to``: the stored run to compare with (default: pytest-benchmark's latest)."""
    args = ["-p", "no:cacheprovider", "-q", f"--benchmark-storage=file://{Path(storage).resolve()}",
            f"--benchmark-json={json_path}", "--benchmark-sort=fullname",
            "--benchmark-columns=min,median,iqr,ops,rounds"]
    if save:
        args.append("--benchmark-autosave")
    if compare_fail:
        target = f"={Path(compare_to).resolve()}" if compare_to is not None else ""
        args += [f"--benchmark-compare{target}", f"--benchmark-compare-fail={compare_fail}"]
    if pattern:
        args += ["-k", pattern]
    return args


def run_benchmarks(args: Sequence[str], *, quick: bool, bench_dir: Path | None = None) -> int:
    """Run ``python -m pytest benchmarks ARGS`` (output streams to the terminal); returns pytest's
    exit status. Raises :class:`OptionError` when no benchmark matches the ``-k`` pattern."""
    bench_dir = bench_dir or benchmarks_dir()
    cmd = [sys.executable, "-m", "pytest", str(bench_dir), *args]
    env = {**os.environ, QUICK_ENV: "1" if quick else "0"}
    code = subprocess.run(cmd, cwd=bench_dir.parent, env=env).returncode
    if code == 5:
        raise OptionError("No benchmark matches that PATTERN; names look like "
                          "'test_train_step[dcgan-cpu]' (a pytest -k expression).")
    return code
