"""What the machine can do right now: the ceilings a throughput is read against, and its load.

A throughput alone cannot tell a slower commit from a starved machine. Measured in the same run
as the figures they bound, two ceilings and the load make it readable:

- :func:`measure_ceilings`: the fp32 GEMM rate (a square matmul, 2048 x 2048 by default; on
  CUDA also the bf16 rate, timed with CUDA events), the memory bandwidth (a large tensor copy),
  the thread count and the torch / CUDA versions. Convolution- and GEMM-bound work is read
  against the GEMM rate; streaming work (feature reads) against the bandwidth.
- :func:`count_gflop`: the FLOPs of one call (matmuls and convolutions), so a benchmark can
  report its achieved GFLOP/s and its fraction of the GEMM rate.
- :func:`sample_load`: the load average and the share of CPU time stolen by the hypervisor, over
  a short window and (given an earlier sample) since then.

Any benchmark can call them::

    from gansuite.engine.ceilings import measure_ceilings

    ceiling = measure_ceilings("cpu")
    fraction = achieved_gflop_s / ceiling.gemm_fp32_gflops

``gansuite bench`` records both at the start and at the end of every run (``machine_info``'s
``gansuite`` entry of the stored report).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Ceilings", "LoadSample", "measure_ceilings", "sample_load", "count_gflop"]

GEMM_SIZE = 2048
BANDWIDTH_MIB = 256


@dataclass(frozen=True)
class Ceilings:
    """Rates measured on one device: GFLOP/s of a square matmul, GB/s of a large copy.

    ``gemm_fp32_gflops`` and ``memory_gb_s`` are the medians over the timed repetitions (what
    the machine sustained under its load at the time); ``*_best`` the fastest repetition.
    """

    device: str
    device_name: str | None
    gemm_size: int
    gemm_fp32_gflops: float
    gemm_fp32_gflops_best: float
    gemm_bf16_gflops: float | None
    memory_gb_s: float
    memory_gb_s_best: float
    threads: int
    ncpu: int
    torch: str
    cuda: str | None
    cudnn: int | None
    timer: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LoadSample:
    """Load average (1, 5, 15 min), CPU steal over ``window_s`` and, if given an earlier sample,
    the CPU steal since that sample (``steal_since_fraction``, ``since_s``)."""

    time: float
    loadavg: tuple[float, float, float] | None
    ncpu: int
    steal_fraction: float | None
    window_s: float
    steal_since_fraction: float | None = None
    since_s: float | None = None
    cpu_times: tuple[int, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("cpu_times")
        out["loadavg"] = list(self.loadavg) if self.loadavg else None
        return out


# -- load ------------------------------------------------------------------------------------
def _cpu_times() -> tuple[int, ...] | None:
    """The aggregate ``cpu`` line of /proc/stat (user nice system idle iowait irq softirq steal)."""
    try:
        with Path("/proc/stat").open() as fh:
            first = fh.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu" or len(first) < 9:
        return None
    return tuple(int(v) for v in first[1:9])


def _steal(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> float | None:
    if a is None or b is None:
        return None
    delta = [max(0, y - x) for x, y in zip(a, b, strict=True)]
    total = sum(delta)
    return delta[7] / total if total > 0 else 0.0


def sample_load(window_s: float = 0.5, since: LoadSample | None = None) -> LoadSample:
    """The load average now and the CPU steal over the next ``window_s`` seconds (and since
    ``since``). Fields are ``None`` where the system does not tell (no /proc/stat)."""
    try:
        loadavg: tuple[float, float, float] | None = os.getloadavg()
    except OSError:
        loadavg = None
    first = _cpu_times()
    time.sleep(max(0.0, window_s))
    last = _cpu_times()
    now = time.time()
    return LoadSample(
        time=now,
        loadavg=loadavg,
        ncpu=os.cpu_count() or 1,
        steal_fraction=_steal(first, last),
        window_s=window_s,
        steal_since_fraction=_steal(since.cpu_times, last) if since is not None else None,
        since_s=now - since.time if since is not None else None,
        cpu_times=last,
    )


# -- ceilings --------------------------------------------------------------------------------
def _timer(device: Any) -> Callable[[Callable[[], None]], float]:
    """Seconds one call takes: ``perf_counter`` on CPU, CUDA events (after a sync) on CUDA."""
    import torch

    if device.type != "cuda":
        def cpu(fn: Callable[[], None]) -> float:
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start

        return cpu

    def cuda(fn: Callable[[], None]) -> float:
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        begin.record()
        fn()
        end.record()
        end.synchronize()
        return float(begin.elapsed_time(end)) / 1000.0

    return cuda


def _repeat(timed: Callable[[Callable[[], None]], float], fn: Callable[[], None], *, min_seconds: float,
            min_reps: int = 3, max_reps: int = 50) -> list[float]:
    """Times of ``fn`` (one untimed warm-up), repeated until ``min_seconds`` and ``min_reps``."""
    fn()
    times: list[float] = []
    while len(times) < max_reps and (len(times) < min_reps or sum(times) < min_seconds):
        times.append(timed(fn))
    return times


def _gemm_rates(device: Any, dtype: Any, size: int, min_seconds: float, per_call: int) -> tuple[float, float]:
    import torch

    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=gen).to(device=device, dtype=dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)

    def run() -> None:
        for _ in range(per_call):
            torch.mm(a, b, out=out)

    times = _repeat(_timer(device), run, min_seconds=min_seconds)
    flop = 2.0 * size**3 * per_call
    return flop / statistics.median(times) / 1e9, flop / min(times) / 1e9


def _bandwidth(device: Any, mib: int, min_seconds: float, per_call: int) -> tuple[float, float]:
    """GB/s of ``dst.copy_(src)`` over ``mib`` MiB: bytes read plus bytes written."""
    import torch

    n = mib * 2**20 // 4
    src = torch.ones(n, device=device)
    dst = torch.empty(n, device=device)

    def run() -> None:
        for _ in range(per_call):
            dst.copy_(src)

    times = _repeat(_timer(device), run, min_seconds=min_seconds)
    moved = 2.0 * n * 4 * per_call
    return moved / statistics.median(times) / 1e9, moved / min(times) / 1e9


def measure_ceilings(device: Any = "cpu", *, gemm_size: int = GEMM_SIZE, bandwidth_mib: int = BANDWIDTH_MIB,
                     min_seconds: float = 0.3) -> Ceilings:
    """The fp32 GEMM rate, the memory bandwidth (and on CUDA the bf16 GEMM rate) of ``device``.

    Each rate is timed over at least 3 repetitions and ``min_seconds`` (after a warm-up), so on
    a quiet 2-core CPU the whole call takes about a second; on a starved one, longer. The fp32
    rate is true fp32 (TF32 switched off while it is timed, then restored).
    """
    import torch

    device = torch.device(device)
    started = time.perf_counter()
    cuda = device.type == "cuda"
    per_call = 20 if cuda else 1  # a CUDA matmul takes microseconds: time a run of them
    name = str(torch.cuda.get_device_name(device)) if cuda else None
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        fp32, fp32_best = _gemm_rates(device, torch.float32, gemm_size, min_seconds, per_call)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    bf16 = _gemm_rates(device, torch.bfloat16, gemm_size, min_seconds, per_call)[0] if cuda else None
    gb_s, gb_s_best = _bandwidth(device, bandwidth_mib, min_seconds, per_call if cuda else 1)
    return Ceilings(
        device=device.type,
        device_name=name,
        gemm_size=gemm_size,
        gemm_fp32_gflops=fp32,
        gemm_fp32_gflops_best=fp32_best,
        gemm_bf16_gflops=bf16,
        memory_gb_s=gb_s,
        memory_gb_s_best=gb_s_best,
        threads=torch.get_num_threads(),
        ncpu=os.cpu_count() or 1,
        torch=torch.__version__,
        cuda=torch.version.cuda if cuda or torch.version.cuda else None,
        cudnn=torch.backends.cudnn.version() if cuda else None,
        timer="cuda-events" if cuda else "perf_counter",
        seconds=time.perf_counter() - started,
    )


def count_gflop(fn: Callable[[], Any]) -> float | None:
    """GFLOP of one call of ``fn`` (matmuls and convolutions, forward and backward), counted by
    ``torch.utils.flop_counter.FlopCounterMode``; call it outside the timed rounds. None when
    the counter cannot trace the call (on torch 2.14 it fails on parametrized modules such as
    spectral norm and on double backward): the benchmark then has no fraction of the ceiling."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    try:
        with counter:
            fn()
    except Exception:  # noqa: BLE001 - the count is optional; the timed benchmark stands
        return None
    return float(counter.get_total_flops()) / 1e9
