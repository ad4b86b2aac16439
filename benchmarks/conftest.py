"""Shared settings of the throughput benchmarks.

- Collection: files ``bench_*.py`` (``benchmarks/pytest.ini``; the hook below also collects them
  when pytest runs with the project's main configuration, e.g. ``pytest tests benchmarks``).
- ``GANSUITE_BENCH_QUICK=1`` selects the quick pass (what CI runs): small batches, few rounds.
  Benchmarks read it through the ``quick`` / ``bench_settings`` fixtures; plain ``benchmark(fn)``
  calls get shorter pytest-benchmark limits too (``--benchmark-max-time`` 0.25 s, 3 rounds),
  unless given on the command line.
- ``device``: every benchmark that takes it runs on CPU and, when available, on CUDA; without
  CUDA the CUDA case is skipped with the reason.
- Every report's ``machine_info`` gets a ``gansuite`` entry: the hostname-independent hardware
  id (``gansuite bench`` stores runs under ``benchmarks/history/<hardware id>/<mode>/``), the
  mode, the versions, and the machine's ceilings and load measured before the first benchmark
  and after the last (:mod:`gansuite.engine.ceilings`; on every device the run uses).
- ``record_throughput(..., gflop_per_call=...)`` (GEMM- or convolution-bound work) or
  ``bytes_per_call=...`` (streaming work) lets ``gansuite bench history`` read the throughput as a
  fraction of the ceiling; :func:`gansuite.engine.ceilings.count_gflop` counts a call's FLOPs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

QUICK = os.environ.get("GANSUITE_BENCH_QUICK", "0").strip().lower() not in {"", "0", "false", "no"}


@dataclass(frozen=True)
class BenchSettings:
    """Sizes and repetitions of one pass (quick or full)."""

    quick: bool
    batch_size: int | None  # None: the model recipe's batch size
    rounds: int
    warmup_rounds: int
    n_items: int  # rows for the SVM fit, images for dedup hashing
    svm_iterations: int


QUICK_SETTINGS = BenchSettings(
    quick=True, batch_size=8, rounds=3, warmup_rounds=1, n_items=500, svm_iterations=5
)
FULL_SETTINGS = BenchSettings(
    quick=False, batch_size=None, rounds=10, warmup_rounds=2, n_items=5000, svm_iterations=30
)


def pytest_configure(config: pytest.Config) -> None:
    """Quick pass: shorter limits for plain ``benchmark(fn)`` calls left at their defaults."""
    if not QUICK or not hasattr(config.option, "benchmark_max_time"):
        return
    if float(config.option.benchmark_max_time) == 1.0:
        config.option.benchmark_max_time = 0.25
    if config.option.benchmark_min_rounds == 5:
        config.option.benchmark_min_rounds = 3


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    """Collect ``bench_*.py`` when the active configuration's ``python_files`` does not."""
    if file_path.suffix != ".py" or not file_path.name.startswith("bench_"):
        return None
    patterns = parent.config.getini("python_files")
    if any(Path(file_path.name).match(p) for p in patterns):
        return None  # the python plugin collects it already
    return pytest.Module.from_parent(parent, path=file_path)


_MACHINE_STATE: dict[str, dict[str, Any]] = {"ceilings": {}, "load": {}}
_LOAD_SINCE: list[Any] = []


def _snapshot(when: str) -> None:
    """Ceilings (CPU, and CUDA when present) and load, stored as ``when`` ("before"/"after")."""
    import torch

    from gansuite.engine.ceilings import measure_ceilings, sample_load

    load = sample_load(since=_LOAD_SINCE[0] if _LOAD_SINCE else None)
    _LOAD_SINCE.append(load)
    _MACHINE_STATE["load"][when] = load.as_dict()
    _MACHINE_STATE["ceilings"][when] = measure_ceilings("cpu").as_dict()
    if torch.cuda.is_available():
        _MACHINE_STATE.setdefault("cuda_ceilings", {})[when] = measure_ceilings("cuda").as_dict()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    """Measure the ceilings and the load before the first benchmark and after the last."""
    measure = not session.config.option.collectonly and bool(session.items)
    if measure:
        _snapshot("before")
    yield
    if measure:
        _snapshot("after")


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Record the hardware id, the mode, the versions, the ceilings and the load with the report."""
    import torch

    import gansuite
    from gansuite.report.bench import machine_details, machine_id

    details = machine_details()
    machine_info["gansuite"] = {
        "machine": machine_id(details),
        "quick": QUICK,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gansuite": gansuite.__version__,
        "threads": torch.get_num_threads(),
        **details,
        **{k: dict(v) for k, v in _MACHINE_STATE.items()},
    }


_MEASURED = ("ceilings", "load", "cuda_ceilings")  # measured per run: they differ between any two runs


@pytest.hookimpl(tryfirst=True)
def pytest_benchmark_compare_machine_info(machine_info: dict[str, Any], compared_benchmark: dict[str, Any]) -> None:
    """Compare machines without the per-run measurements (ceilings, load), which always differ;
    runs before pytest-benchmark's own comparison, which sees the trimmed records."""
    for info in (machine_info, compared_benchmark.get("machine_info") or {}):
        ours = info.get("gansuite")
        if isinstance(ours, dict):
            info["gansuite"] = {k: v for k, v in ours.items() if k not in _MEASURED}


@pytest.fixture(scope="session")
def quick() -> bool:
    """True in the quick pass (``GANSUITE_BENCH_QUICK=1``)."""
    return QUICK


@pytest.fixture(scope="session")
def bench_settings() -> BenchSettings:
    """Batch size, rounds and sizes of this pass."""
    return QUICK_SETTINGS if QUICK else FULL_SETTINGS


@pytest.fixture(params=["cpu", "cuda"], scope="session")
def device(request: pytest.FixtureRequest) -> Any:
    """``torch.device`` to benchmark on: CPU always, CUDA when this machine has it."""
    import torch

    if request.param == "cuda":
        if not torch.cuda.is_available():
            pytest.skip("CUDA not available (torch.cuda.is_available() is False on this machine)")
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return torch.device(request.param)


@pytest.fixture
def record_throughput(benchmark: Any) -> Callable[..., None]:
    """After ``benchmark.pedantic(...)``: put items/s (from the median round) and context in
    ``benchmark.extra_info``. Call as ``record_throughput(items=..., unit="images/s", device=...,
    dtype="float32", batch_size=..., spec=registered_spec, gflop_per_call=... | bytes_per_call=...,
    **more)``; ``family="evaluation"`` (say) names the history figure it belongs to."""
    import torch

    import gansuite

    def record(
        *,
        items: int,
        unit: str,
        device: Any,
        dtype: str,
        batch_size: int | None = None,
        spec: Any = None,
        gflop_per_call: float | None = None,
        bytes_per_call: float | None = None,
        **more: Any,
    ) -> None:
        median = float(benchmark.stats.stats.median)
        info = benchmark.extra_info
        info["items_per_s"] = items / median if median > 0 else float("nan")
        info["unit"] = unit
        info["items_per_call"] = items
        info["device"] = str(device)
        if getattr(device, "type", str(device)) == "cuda":
            info["device_name"] = torch.cuda.get_device_name(device)
        info["dtype"] = dtype
        info["batch_size"] = batch_size
        info["torch"] = torch.__version__
        info["gansuite"] = gansuite.__version__
        info["quick"] = QUICK
        plugin = getattr(spec, "plugin", None)
        if plugin is not None:
            info["plugin"] = plugin.name
            info["plugin_distribution"] = plugin.distribution
            info["plugin_version"] = plugin.version
        if gflop_per_call:  # GEMM- or convolution-bound: read against the GEMM rate
            info["gflop_per_item"] = gflop_per_call / items
            info["bound"] = "gemm"
        if bytes_per_call:  # streaming: read against the memory bandwidth
            info["bytes_per_item"] = bytes_per_call / items
            info["bound"] = "bandwidth"
        info.update(more)

    return record
