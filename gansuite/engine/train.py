"""The training engine: generic over model plugins (anything satisfying ``GANModel``).

One iteration is :class:`gansuite.engine.step.GANStep`; this module runs it until a limit, with
checkpoints, samples, metrics, divergence checks and the progress bar.

Reproducibility: the data order of epoch ``e`` and the latents of step ``s`` on rank ``r`` are
pure functions of ``(seed, e)`` and ``(seed, s, r)``, and a checkpoint holds everything else
(weights, optimisers, data position, every global RNG state), so a resumed run continues exactly.
Limits count the whole run: ``--max-steps`` is the final step number and ``--time-budget`` the
training seconds summed over every invocation (both can be raised when resuming).
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gansuite.engine import checkpoint as ckpt
from gansuite.engine import distributed
from gansuite.engine.device import autocast, configure_backends, fits_on_device, resolve_device, synchronize
from gansuite.engine.interrupt import StopRequest, deferred_stop
from gansuite.engine.runfolder import RunFolder
from gansuite.engine.step import GANStep, normalize_batch
from gansuite.plugin.errors import CheckpointError, DivergenceError

if TYPE_CHECKING:
    from gansuite.engine.data import TrainingData
    from gansuite.plugin.protocols import GANModel
    from gansuite.runs.runner import RunPlan

__all__ = ["TrainOutcome", "GANStep", "train", "load_run_model", "normalize_batch", "build_model", "describe_model"]

STAT_NAMES = ("loss_d", "loss_g", "d_real", "d_fake")
N_FIXED_SAMPLES = 64


@dataclass
class TrainOutcome:
    """What a training run produced; ``model`` is unwrapped (no DDP), in eval mode."""

    model: Any
    steps: int
    images_seen: int
    seconds: float
    stopped_because: str
    last_checkpoint: str | None
    device: str = "cpu"
    world_size: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "images_seen": self.images_seen,
            "seconds": round(self.seconds, 3),
            "images_per_s": round(self.images_seen / self.seconds, 2) if self.seconds > 0 else None,
            "stopped_because": self.stopped_because,
            "last_checkpoint": self.last_checkpoint,
            "device": self.device,
            "world_size": self.world_size,
            **self.extra,
        }


def build_model(spec: Any, config: Any, *, image_size: int, channels: int) -> GANModel:
    """Call a model spec's factory."""
    return spec.load_factory()(config, image_size=image_size, channels=channels)


def describe_model(model: GANModel) -> dict[str, Any]:
    """What ``config.json`` records as ``architecture``: both networks' parameter counts, plus
    what the model's optional ``describe()`` returns (resolved widths and the like, where the
    options leave them to the model)."""
    info: dict[str, Any] = {
        "generator_parameters": sum(p.numel() for p in model.generator.parameters()),
        "discriminator_parameters": sum(p.numel() for p in model.discriminator.parameters()),
    }
    describe = getattr(model, "describe", None)
    if callable(describe):
        try:
            info.update(describe())
        except Exception as exc:  # a broken describe() must not cost a finished run
            info["describe_error"] = f"{type(exc).__name__}: {exc}"
    return info


class _Trainer:
    """State and bookkeeping of one ``train`` call (the loop itself lives in :meth:`run`)."""

    def __init__(self, plan: RunPlan, folder: RunFolder, data: TrainingData,
                 ctx: distributed.DistContext) -> None:
        import numpy as np
        import torch

        self.plan, self.folder, self.ctx, req = plan, folder, ctx, plan.request
        self.device = resolve_device(req.device, local_rank=ctx.local_rank)
        configure_backends(self.device)
        self.seed = int(req.seed)
        random.seed(self.seed)
        np.random.seed(self.seed % 2**32)
        torch.manual_seed(self.seed)
        images = data.data.images
        self.channels = int(images.shape[1])
        self.model = build_model(plan.model, plan.model_config, image_size=plan.image_size,
                                 channels=self.channels)
        for net in (self.model.generator, self.model.discriminator):
            net.to(self.device).to(memory_format=torch.channels_last).train()
        self.opt_g, self.opt_d = self.model.optimizers()
        on_device = fits_on_device(images.numel() * images.element_size(), self.device)
        self.images = images.to(self.device) if on_device else images.pin_memory() \
            if self.device.type == "cuda" else images
        self.sampler = distributed.BatchSampler(len(images), plan.batch_size, self.seed, ctx)
        self.step, self.seconds_before, self.last_ckpt_step = 0, 0.0, -1
        self.last_ckpt: Path | None = None
        gen = torch.Generator().manual_seed(distributed.seed_for(self.seed, 0x5A3))
        self.fixed_z = self.model.sample_z(N_FIXED_SAMPLES, generator=gen, device="cpu").to(self.device)
        self.z_gen = torch.Generator(device=self.device)
        if plan.resuming:
            self._resume()
        self.step_fn = self._make_step(req.compile)

    def _make_step(self, compile_: bool) -> GANStep:
        import torch

        g_net: Any = self.model.generator
        d_net: Any = self.model.discriminator
        d_plain: Any = self.model.discriminator
        if self.ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            g_net, d_net = DDP(g_net, device_ids=ids), DDP(d_net, device_ids=ids)
        if compile_:
            g_net, d_net, d_plain = torch.compile(g_net), torch.compile(d_net), torch.compile(d_plain)
        return GANStep(self.model, self.opt_g, self.opt_d, device=self.device, g_net=g_net,
                       d_net=d_net, d_plain=d_plain)

    # checkpoints --------------------------------------------------------------------------
    def _state(self, seconds: float) -> dict[str, Any]:
        from gansuite.plugin.options import config_dict

        try:
            config = self.folder.read_config()
        except CheckpointError:
            config = {}
        m = self.model
        return {
            "format": ckpt.FORMAT, "step": self.step, "seconds": seconds,
            "images_seen": self.step * self.plan.batch_size, "world_size": self.ctx.world_size,
            "model": self.plan.model.name, "model_config": config_dict(self.plan.model_config),
            "image_size": int(m.image_size), "channels": self.channels,
            "generator": m.generator.state_dict(), "discriminator": m.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "sampler": self.sampler.state_dict(), "rng": ckpt.capture_rng(),
            "config": ckpt.json_safe(config),
        }

    def save(self, seconds: float) -> None:
        """Checkpoint the current step (rank 0), refusing to store non-finite weights."""
        import torch

        nets = (self.model.generator, self.model.discriminator)
        if not all(bool(torch.isfinite(p).all()) for net in nets for p in net.parameters()):
            kept = f"the last good checkpoint {self.last_ckpt} is kept" if self.last_ckpt else \
                "no checkpoint had been written yet"
            raise DivergenceError(f"Training diverged by step {self.step}: the weights hold NaN or Inf; "
                                  f"{kept}. Start a new run with a lower learning rate (-o lr=...) or another --seed.")
        if self.ctx.is_main and self.last_ckpt_step != self.step:
            self.last_ckpt = ckpt.save_checkpoint(self.folder.checkpoints, self.step, self._state(seconds))
        self.last_ckpt_step = self.step

    def _resume(self) -> None:
        path, state = ckpt.load_latest(self.folder.checkpoints, map_location=self.device)
        if state.get("model") != self.plan.model.name:
            raise CheckpointError(f"{path} holds model '{state.get('model')}', but this run trains "
                                  f"'{self.plan.model.name}'.")
        self.model.generator.load_state_dict(state["generator"])
        self.model.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sampler.load_state_dict(state["sampler"])
        ckpt.restore_rng(state["rng"])
        self.step, self.seconds_before = int(state["step"]), float(state["seconds"])
        self.last_ckpt, self.last_ckpt_step = path, self.step
        if self.ctx.is_main:
            self.folder.truncate_metrics(self.step)

    # samples and metrics ------------------------------------------------------------------
    def write_samples(self) -> None:
        """A grid from the fixed z, with batch statistics, leaving every buffer untouched."""
        import torch

        from gansuite.engine.plots import save_image_grid

        if not self.ctx.is_main:
            return
        g = self.model.generator
        saved = {k: v.clone() for k, v in g.named_buffers()}
        with torch.no_grad(), autocast(self.device):
            images = g(self.fixed_z).float()
        with torch.no_grad():
            for k, v in g.named_buffers():
                v.copy_(saved[k])
        save_image_grid(images, self.folder.samples / f"step-{self.step:09d}.png")

    def limit(self) -> tuple[float, str]:
        """The step limit and its reason (``inf`` when only the time budget bounds the run)."""
        plan, limits = self.plan, []
        if plan.max_steps is not None:
            limits.append((float(plan.max_steps), "max_steps"))
        if plan.epochs is not None:
            limits.append((float(math.ceil(plan.epochs * self.sampler.per_epoch)), "epochs"))
        return min(limits, key=lambda t: t[0]) if limits else (math.inf, "time_budget")


class _Log:
    """Per-step stats held as device tensors and written out in batches (one sync per flush)."""

    def __init__(self, trainer: _Trainer) -> None:
        self.t = trainer
        self.pending: list[tuple[int, Any]] = []
        self.last_time, self.last_step = time.monotonic(), trainer.step
        self.rate = 0.0

    def add(self, step: int, stats: Any) -> None:
        self.pending.append((step, stats))

    def flush(self, final: bool = False) -> dict[str, float]:
        """Check for divergence, write due metrics rows; returns the latest stats."""
        import torch

        t = self.t
        if not self.pending:
            return {}
        steps = [s for s, _ in self.pending]
        values = torch.stack([v for _, v in self.pending]).cpu()
        self.pending = []
        synchronize(t.device)
        now = time.monotonic()
        done = steps[-1] - self.last_step
        self.rate = done * t.plan.batch_size / max(now - self.last_time, 1e-9)
        self.last_time, self.last_step = now, steps[-1]
        finite = torch.isfinite(values).all(dim=1)
        bad_here = not bool(finite.all())
        if t.ctx.any_true(bad_here, t.device):
            self._write(steps, values, finite, final)
            self._diverged(steps, values, finite)
        self._write(steps, values, finite, final)
        return dict(zip(STAT_NAMES, values[-1].tolist(), strict=True))

    def _write(self, steps: list[int], values: Any, finite: Any, final: bool) -> None:
        t = self.t
        if not t.ctx.is_main:
            return
        every, rows = t.plan.request.log_every, []
        for i, step in enumerate(steps):
            if not bool(finite[: i + 1].all()):
                break
            if step % every == 0 or (final and i == len(steps) - 1):
                row: dict[str, Any] = {"step": step, "epoch": round(step / t.sampler.per_epoch, 4)}
                row.update(zip(STAT_NAMES, (round(v, 6) for v in values[i].tolist()), strict=True))
                row["images_per_s"] = round(self.rate, 2)
                rows.append(row)
        if rows:
            t.folder.append_metrics(rows)

    def _diverged(self, steps: list[int], values: Any, finite: Any) -> None:
        t = self.t
        where = f"at step {steps[int((~finite).nonzero()[0])]}" if not bool(finite.all()) \
            else f"on another process by step {steps[-1]}"
        kept = (f"the last good checkpoint {t.last_ckpt} (step {t.last_ckpt_step}) is kept"
                if t.last_ckpt else "no checkpoint had been written yet")
        raise DivergenceError(f"Training diverged {where}: a loss became NaN or Inf; {kept}. "
                              "Start a new run with a lower learning rate (-o lr=...) or another --seed.")


def train(plan: RunPlan, folder: RunFolder, data: TrainingData) -> TrainOutcome:
    """Train ``plan.model`` on ``data`` into ``folder`` (see the module docstring)."""
    ctx = distributed.init(plan.request.device)
    try:
        trainer = _Trainer(plan, folder, data, ctx)
        return _loop(trainer)
    finally:
        distributed.shutdown(ctx)


def _progress(trainer: _Trainer, total: float) -> Any:
    from tqdm.auto import tqdm

    show = trainer.plan.request.progress and trainer.ctx.is_main
    return tqdm(total=None if math.isinf(total) else int(total), initial=trainer.step, unit="step",
                file=sys.stderr, dynamic_ncols=True, disable=None if show else True,
                desc=trainer.plan.model.name)


def _loop(t: _Trainer) -> TrainOutcome:
    """The training loop: stop at the step limit or the time budget, whichever comes first."""
    limit, reason = t.limit()
    budget = t.plan.time_budget if t.plan.time_budget is not None else math.inf
    log, bar = _Log(t), _progress(t, limit)
    start = time.monotonic()
    stopped = reason
    with deferred_stop() as stop:
        stopped = _steps(t, limit, budget, start, log, bar, stop) or stopped
    log.flush(final=True)
    seconds = t.seconds_before + time.monotonic() - start
    bar.close()
    return _finish(t, seconds, stopped)


def _steps(t: _Trainer, limit: float, budget: float, start: float, log: _Log, bar: Any,
           stop: StopRequest) -> str | None:
    """Run steps until a limit; returns why it stopped early (None: the step limit)."""
    req = t.plan.request
    every = (req.log_every, req.checkpoint_every, req.sample_every)
    while t.step < limit:
        # every rank must take part in the same collectives: check at log boundaries under DDP
        if (not t.ctx.enabled or t.step % req.log_every == 0) and t.ctx.any_true(stop.requested, t.device):
            return "interrupted"
        elapsed = t.seconds_before + time.monotonic() - start
        over = elapsed >= budget
        if math.isfinite(budget) and t.ctx.any_true(over, t.device):
            return "time_budget"
        real = normalize_batch(t.images, t.sampler.next(t.device), t.device)
        t.z_gen.manual_seed(distributed.seed_for(t.seed, t.step, t.ctx.rank))
        log.add(t.step + 1, t.step_fn(real, t.z_gen))
        t.step += 1
        bar.update(1)
        if any(t.step % e == 0 for e in every):
            stats = log.flush()
            left = {"left": f"{budget - elapsed:.0f}s"} if math.isfinite(budget) else {}
            bar.set_postfix(img_s=f"{log.rate:.0f}", loss_d=f"{stats['loss_d']:.3f}",
                            loss_g=f"{stats['loss_g']:.3f}", **left, refresh=False)
            if t.step % req.sample_every == 0:
                t.write_samples()
            if t.step % req.checkpoint_every == 0:
                t.save(t.seconds_before + time.monotonic() - start)
    return None


def _finish(t: _Trainer, seconds: float, stopped: str) -> TrainOutcome:
    from gansuite.engine.plots import save_loss_curve

    if t.step % t.plan.request.sample_every:
        t.write_samples()
    t.save(seconds)
    t.ctx.check_in_sync([t.model.generator, t.model.discriminator], t.device)
    if t.ctx.is_main:
        save_loss_curve(t.folder.read_metrics(), t.folder.samples / "loss-curve.png",
                        title=f"{t.plan.model.name} on {t.plan.dataset.name}")
    t.model.generator.eval()
    t.model.discriminator.eval()
    return TrainOutcome(
        model=t.model, steps=t.step, images_seen=t.step * t.plan.batch_size, seconds=seconds,
        stopped_because=stopped, last_checkpoint=str(t.last_ckpt) if t.last_ckpt else None,
        device=str(t.device), world_size=t.ctx.world_size,
    )


def load_run_model(run_dir: Path, device: Any = "cpu") -> tuple[GANModel, dict[str, Any]]:
    """Rebuild a run's model from its latest checkpoint (eval mode) and return its config.json."""
    from gansuite.plugin.manager import get_catalog
    from gansuite.plugin.options import build_config

    folder = RunFolder(run_dir)
    config = folder.read_config()
    dev = resolve_device(device)
    path, state = ckpt.load_latest(folder.checkpoints, map_location=dev)
    spec = get_catalog().registry("models").get(state["model"])
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in state["model_config"].items()}
    model = build_model(spec, build_config(spec, values), image_size=int(state["image_size"]),
                        channels=int(state["channels"]))
    model.generator.load_state_dict(state["generator"])
    model.discriminator.load_state_dict(state["discriminator"])
    for net in (model.generator, model.discriminator):
        net.to(dev).eval()
    return model, {**config, "checkpoint": str(path), "checkpoint_step": int(state["step"])}
