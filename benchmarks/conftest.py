"""Shared settings of the throughput benchmarks.

- Collection: files ``bench_*.py`` (``benchmarks/pytest.ini``; the hook below also collects them
  when pytest runs with the project's main configuration, e.g. ``pytest tests benchmarks``).
- ``GANSUITE_BENCH_QUICK=1`` selects the quick pass (what CI runs): small batches, few rounds.
  Benchmarks read it through the ``quick`` / ``bench_settings`` fixtures; plain ``benchmark(fn)``
  calls get shorter pytest-benchmark limits too (``--benchmark-max-time`` 0.25 s, 3 rounds),
  unless given on the command line.
- ``device``: every benchmark that takes it runs on CPU and, when available, on CUDA; without
  CUDA the CUDA case is skipped with the reason.
- Every report's ``machine_info`` gets a ``gansuite`` entry: the hostname-independent machine
  id ``gansuite bench`` files history under, the mode, and the versions.
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


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Record what ``gansuite bench`` needs to file and compare this report."""
    import torch

    import gansuite
    from gansuite.report.bench import machine_details, machine_id

    details = machine_details()
    machine_info["gansuite"] = {
        "machine": machine_id(details),
        "quick": QUICK,
        "torch": torch.__version__,
        "gansuite": gansuite.__version__,
        "threads": torch.get_num_threads(),
        **details,
    }


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
    dtype="float32", batch_size=..., spec=registered_spec, **more)``."""
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
        info.update(more)

    return record
