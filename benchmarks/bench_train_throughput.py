"""Training-step throughput of the DCGAN models: the engine's step next to a hand-written loop.

The baseline is what a user writes by hand (pytorch/examples' dcgan ``main.py``): the same
architecture as ``dcgan`` written inline as ``nn.Sequential`` in contiguous NCHW, the same
initialisation, losses, Adam settings, batch and latents; it gets its real batch already
normalised (no data-loading cost). The engine's step (:class:`gansuite.engine.step.GANStep`) adds
channels_last, the fused Adam kernel, no D weight gradients during the G step and the uint8
-> [-1, 1] batch preparation (timed); the plugin's networks add their polyphase image layers
(``gansuite_dcgan.imageconv``: G's output conv and D's input gradient; same map, and the FLOP
count includes the zero taps they multiply).

A third loop is the hand-written one with the one-line channels_last change a user can make
(networks and batch in channels_last): what channels_last alone is worth on this machine.

All run interleaved in one process, one round of each loop after another, the order rotating
from round to round, so load from other processes and whatever one loop leaves behind for the
next hit them alike; the ratio of their median times is the number to read. FLOPs per
iteration come from ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matmuls,
forward and backward) and give the achieved GFLOP/s.

Models, at their registered defaults: ``dcgan`` (the paper's recipe with the authors' 5x5
kernels; ngf = ndf = 64 at 32x32, 128 at 64x64) and ``dcgan-pytorch-examples`` (4x4 kernels,
ngf = ndf = 64: the network pytorch/examples trains), both at batch 128, 32x32 and 64x64.
``GANSUITE_BENCH_QUICK=1``: ngf = ndf = 32, still batch 128. ``GANSUITE_BENCH_WIDTH=N`` sets
ngf = ndf = N in either pass.
``GANSUITE_BENCH_COMPILE=1`` times the engine as ``gansuite run --compile`` trains (torch.compile;
the compilation happens in the untimed warm-up).

Devices: CPU always; CUDA when the machine has it (skipped otherwise). On CUDA the engine trains
as it does there, under bf16 autocast with cudnn.benchmark, while the hand-written loops stay in
fp32 (TF32 allowed), and each round times 20 steps (``GANSUITE_BENCH_STEPS=N`` sets it on
either device); the GFLOP/s figures then read as the achieved rate against the GPU's bf16
ceiling.

Rounds: as many as fit ~40 s per case (3 s in the quick pass), a multiple of 3 from 3 to 15.
The ratio is reported from the median times, from the fastest round of each (``ratio_best``;
other processes only ever add time) and as the median over rounds of the baseline's time over
the engine's in the same round (``ratio_paired``); ``ratio_channels_last_alone`` and
``ratio_vs_hand_written_channels_last`` are paired the same way.

The gate: on CPU a case fails when ``ratio_paired`` falls below ``RATIO_FLOOR_CPU``, the engine
no slower than the loop a user writes by hand, less the spread the paired ratio shows between
quick runs on a loaded 2-core machine (docs/benchmarks.md lists it per stored run). CUDA cases
record the ratio without a gate (the engine runs bf16 there, the hand-written loop fp32).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import pytest
import torch
from torch import nn

from gansuite._host.manager import get_catalog
from gansuite._host.options import build_config
from gansuite.engine.device import configure_backends, synchronize
from gansuite.engine.step import GANStep, normalize_batch

SIZES = (32, 64)
MODELS = ("dcgan", "dcgan-pytorch-examples")
ROUND_SECONDS, ROUND_SECONDS_QUICK = 40.0, 3.0  # time for the interleaved rounds of one case
STEPS_PER_ROUND_CUDA = 20
RATIO_FLOOR_CPU = 0.75  # the gate on ratio_paired (see the module docstring)


# --- the hand-written baseline ---------------------------------------------------------------
class _View(nn.Module):
    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], *self.shape)


def _hand_written(size: int, ngf: int, ndf: int, k: int, nz: int = 100) -> tuple[nn.Module, nn.Module]:
    """dcgan's G and D as a user writes them: plain Sequentials, NCHW."""
    n = size.bit_length() - 3  # log2(size / 4)
    pad = (k - 1) // 2
    out_pad = 2 + 2 * pad - k  # so that each transposed conv exactly doubles the size
    c0 = ngf * 2 ** (n - 1)
    g: list[nn.Module] = [nn.Linear(nz, c0 * 16, bias=False), nn.BatchNorm1d(c0 * 16), nn.ReLU(True),
                          _View(c0, 4, 4)]
    for i in range(1, n):
        c = ngf * 2 ** (n - 1 - i)
        g += [nn.ConvTranspose2d(c * 2, c, k, 2, pad, out_pad, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
    g += [nn.ConvTranspose2d(ngf, 3, k, 2, pad, out_pad), nn.Tanh()]
    d: list[nn.Module] = [nn.Conv2d(3, ndf, k, 2, pad), nn.LeakyReLU(0.2, True)]
    for i in range(1, n):
        d += [nn.Conv2d(ndf * 2 ** (i - 1), ndf * 2**i, k, 2, pad, bias=False),
              nn.BatchNorm2d(ndf * 2**i), nn.LeakyReLU(0.2, True)]
    d += [nn.Flatten(), nn.Linear(ndf * 2 ** (n - 1) * 16, 1), nn.Flatten(0)]
    net_g, net_d = nn.Sequential(*g), nn.Sequential(*d)
    for m in [*net_g.modules(), *net_d.modules()]:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return net_g, net_d


class _Baseline:
    """pytorch/examples' training iteration, unchanged in spirit.

    ``channels_last=True`` is the one-line change a user can make by hand (networks and batch
    in channels_last): what channels_last alone is worth, measured beside the engine.
    """

    def __init__(self, size: int, ngf: int, ndf: int, k: int, channels_last: bool = False,
                 device: torch.device | None = None) -> None:
        self.net_g, self.net_d = _hand_written(size, ngf, ndf, k)
        for net in (self.net_g, self.net_d):
            net.to(device or torch.device("cpu"))
            if channels_last:
                net.to(memory_format=torch.channels_last)
        self.opt_g = torch.optim.Adam(self.net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.criterion = nn.BCEWithLogitsLoss()

    def __call__(self, real: torch.Tensor, noise: torch.Tensor) -> None:
        b = real.shape[0]
        ones, zeros = torch.ones(b, device=real.device), torch.zeros(b, device=real.device)
        self.net_d.zero_grad()
        err_real = self.criterion(self.net_d(real), ones)
        err_real.backward()
        fake = self.net_g(noise)
        err_fake = self.criterion(self.net_d(fake.detach()), zeros)
        err_fake.backward()
        self.opt_d.step()
        self.net_g.zero_grad()
        err_g = self.criterion(self.net_d(fake), ones)
        err_g.backward()
        self.opt_g.step()


# --- the engine -------------------------------------------------------------------------------
def _engine(size: int, options: dict[str, Any], compile_: bool = False, name: str = "dcgan",
            device: torch.device | None = None) -> tuple[GANStep, GANStep, Any]:
    """The engine's step as the trainer builds it (channels_last; bf16 autocast on CUDA), and an
    eager twin for FLOP counting."""
    spec = get_catalog().registry("models").get(name)
    model = spec.load_factory()(build_config(spec, options), image_size=size, channels=3)
    device = device or torch.device("cpu")
    configure_backends(device)
    for net in (model.generator, model.discriminator):
        net.to(device).to(memory_format=torch.channels_last).train()
    opt_g, opt_d = model.optimizers()
    eager = GANStep(model, opt_g, opt_d, device=device)
    if not compile_:
        return eager, eager, spec
    g, d = model.generator, model.discriminator
    timed = GANStep(model, opt_g, opt_d, device=device, g_net=torch.compile(g), d_net=torch.compile(d),
                    d_plain=torch.compile(d))
    return timed, eager, spec


def _flops(fn: Any) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def _timed(fn: Any, device: torch.device | None = None) -> float:
    device = device or torch.device("cpu")
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def _paired(slower: list[float], faster: list[float]) -> float:
    """Median over rounds of one loop's time over another's in the same round."""
    return statistics.median(a / b for a, b in zip(slower, faster, strict=True))


def _same_shapes(engine: GANStep, baseline: _Baseline) -> None:
    """The two loops train the same networks: equal parameter shapes, in order."""
    for ours, theirs in ((engine.model.generator, baseline.net_g), (engine.model.discriminator, baseline.net_d)):
        a = [tuple(p.shape) for p in ours.parameters()]
        b = [tuple(p.shape) for p in theirs.parameters()]
        assert a == b, f"hand-written network differs from the plugin's: {a} vs {b}"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("size", SIZES)
def bench_train_step_vs_hand_written(benchmark: Any, size: int, model: str, device: torch.device,
                                     quick: bool, record_throughput: Any) -> None:
    width_env = os.environ.get("GANSUITE_BENCH_WIDTH", "32" if quick else "")
    options = {"ngf": int(width_env), "ndf": int(width_env)} if width_env else {}  # else: defaults
    batch = 128
    cuda = device.type == "cuda"
    # a CUDA step is milliseconds: each round times a run of them
    steps = int(os.environ.get("GANSUITE_BENCH_STEPS", "0")) or (STEPS_PER_ROUND_CUDA if cuda else 1)
    compile_ = os.environ.get("GANSUITE_BENCH_COMPILE", "0") not in {"", "0"}
    torch.manual_seed(0)
    step, eager_step, spec = _engine(size, options, compile_, model, device)
    kernel = step.model.generator.main[0].kernel_size[0]
    width = int(step.model.discriminator.blocks[0][0].out_channels)  # type: ignore[index,union-attr]  # ndf = ngf here
    baseline = _Baseline(size, width, width, kernel, device=device)
    baseline_cl = _Baseline(size, width, width, kernel, channels_last=True, device=device)
    _same_shapes(eager_step, baseline)

    images = torch.randint(0, 256, (batch * 4, 3, size, size), dtype=torch.uint8, device=device)
    idx = torch.arange(batch, device=device)
    noise = torch.rand(batch, 100, device=device) * 2 - 1
    real_float = images[:batch].float() / 127.5 - 1  # the baselines' batch, prepared for free
    real_cl = real_float.contiguous(memory_format=torch.channels_last)
    assert baseline.net_g(noise[:2]).shape == (2, 3, size, size)
    z_gen = torch.Generator(device=device)

    def engine_iteration(run: GANStep = step) -> None:
        for _ in range(steps):
            z_gen.manual_seed(0)
            run(normalize_batch(images, idx, device), z_gen)
        synchronize(device)  # pytest-benchmark times this call itself

    def baseline_iteration() -> None:
        for _ in range(steps):
            baseline(real_float, noise)

    def baseline_cl_iteration() -> None:
        for _ in range(steps):
            baseline_cl(real_cl, noise)

    # Warm-up (one each, also the FLOP count), then interleaved rounds of all three loops.
    engine_flops = _flops(lambda: eager_step(normalize_batch(images, idx, device), z_gen)) * steps
    baseline_flops = _flops(lambda: baseline(real_float, noise)) * steps
    baseline_cl_iteration()
    if compile_ or cuda:
        engine_iteration()  # compiles; on CUDA also cudnn.benchmark's autotuning
        engine_iteration()
    # As many interleaved rounds as fit the time (a shared CPU's speed drifts between rounds).
    per_round = sum(_timed(f, device) for f in (engine_iteration, baseline_iteration, baseline_cl_iteration))
    fit = int((ROUND_SECONDS_QUICK if quick else ROUND_SECONDS) / per_round)
    rounds = max(3, min(15, fit) // 3 * 3)  # whole rotations
    base_times: list[float] = []
    cl_times: list[float] = []
    # The loop that runs right after another is a few percent faster or slower (caches, the
    # allocator), so each round rotates the order: every loop takes every position equally often.
    others = [(baseline_iteration, base_times), (baseline_cl_iteration, cl_times)]
    round_no = 0

    def run_others(before: bool) -> None:
        nonlocal round_no
        engine_at = 2 - round_no % 3  # the engine's place in this round: 2, 1, 0
        for i, (fn, times) in enumerate(others):
            if (i < engine_at) == before:
                times.append(_timed(fn, device))
        if not before:
            round_no += 1

    benchmark.pedantic(engine_iteration, setup=lambda: run_others(True), teardown=lambda: run_others(False),
                       rounds=rounds, iterations=1, warmup_rounds=0)
    engine_times = list(benchmark.stats.stats.data)
    engine_s = float(benchmark.stats.stats.median)
    base_s, cl_s = statistics.median(base_times), statistics.median(cl_times)
    ratio = base_s / engine_s
    ratio_best = min(base_times) / min(engine_times)
    # each engine round next to the baseline rounds beside it: robust to slow drifts
    ratio_paired = _paired(base_times, engine_times)
    cl_alone = _paired(base_times, cl_times)  # channels_last by hand over the plain loop
    over_cl = _paired(cl_times, engine_times)  # the engine over the channels_last loop
    images_done = batch * steps
    floor = RATIO_FLOOR_CPU if device.type == "cpu" else None
    # On CUDA the engine trains under bf16 autocast; the hand-written loops stay in fp32 (TF32).
    dtype = "bfloat16-autocast" if cuda else "float32"
    record_throughput(
        items=images_done, unit="images/s", device=device, dtype=dtype, batch_size=batch, spec=spec,
        model=model, image_size=size, ngf=width, ndf=width, kernel_size=kernel, compiled=compile_,
        steps_per_round=steps, engine_images_per_s=images_done / engine_s,
        baseline_images_per_s=images_done / base_s, baseline_channels_last_images_per_s=images_done / cl_s,
        ratio_vs_hand_written=ratio, ratio_best=ratio_best, ratio_paired=ratio_paired, rounds=rounds,
        ratio_channels_last_alone=cl_alone, ratio_vs_hand_written_channels_last=over_cl,
        gflop_per_iteration_engine=engine_flops / steps / 1e9,
        gflop_per_iteration_baseline=baseline_flops / steps / 1e9,
        engine_gflop_s=engine_flops / engine_s / 1e9, baseline_gflop_s=baseline_flops / base_s / 1e9,
        engine_gflop_s_at_baseline_work=baseline_flops / engine_s / 1e9,
        baseline_rounds_s=base_times, baseline_channels_last_rounds_s=cl_times, threads=torch.get_num_threads(),
        ratio_floor=floor, gflop_per_call=engine_flops / 1e9,
    )
    print(f"\n{model} {size}x{size} {device.type} batch {batch} ngf=ndf={width} k={kernel}"
          f"{' compiled' if compile_ else ''}{' (engine bf16 autocast)' if cuda else ''}: "
          f"engine {images_done / engine_s:.1f} img/s ({engine_flops / steps / 1e9:.1f} GFLOP/it, "
          f"{engine_flops / engine_s / 1e9:.1f} GFLOP/s), hand-written {images_done / base_s:.1f} img/s "
          f"({baseline_flops / steps / 1e9:.1f} GFLOP/it, {baseline_flops / base_s / 1e9:.1f} GFLOP/s), "
          f"hand-written + channels_last {images_done / cl_s:.1f} img/s; ratio {ratio:.2f}x (fastest rounds: "
          f"{ratio_best:.2f}x, median of {rounds} paired rounds: {ratio_paired:.2f}x); channels_last alone "
          f"{cl_alone:.2f}x, engine over it {over_cl:.2f}x")
    if floor is not None:
        assert ratio_paired >= floor, (
            f"the engine trains {model} {size}x{size} at {ratio_paired:.2f}x the hand-written loop's speed "
            f"(median of {rounds} paired rounds), below the floor of {floor:.2f}x")
