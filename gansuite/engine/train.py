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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gansuite._compat import adapt_model
from gansuite.contract.errors import CheckpointError, DivergenceError
from gansuite.contract.model import Batch, GANModel
from gansuite.contract.progress import progress
from gansuite.engine import checkpoint as ckpt
from gansuite.engine import distributed
from gansuite.engine.build import plugin_call
from gansuite.engine.checks import check_extra_state, check_step_stats
from gansuite.engine.config import TrainConfig
from gansuite.engine.device import autocast, configure_backends, fits_on_device, resolve_device
from gansuite.engine.interrupt import StopRequest, deferred_stop
from gansuite.engine.runfolder import RunFolder
from gansuite.engine.step import GANStep, normalize_batch
from gansuite.engine.steplog import StepLog

if TYPE_CHECKING:
    from gansuite.engine.data import TrainingData

__all__ = ["TrainOutcome", "train", "fixed_samples", "N_FIXED_SAMPLES"]

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
    precision: str = "fp32"

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
            "precision": self.precision,
        }


class _Trainer:
    """State and bookkeeping of one ``train`` call (the loop itself is :func:`_loop`)."""

    def __init__(self, model: GANModel, cfg: TrainConfig, folder: RunFolder, data: TrainingData,
                 ctx: distributed.DistContext) -> None:
        import numpy as np
        import torch

        self.cfg, self.folder, self.ctx = cfg, folder, ctx
        self.device = resolve_device(cfg.device, local_rank=ctx.local_rank)
        configure_backends(self.device)
        self.seed = int(cfg.seed)
        random.seed(self.seed)
        np.random.seed(self.seed % 2**32)
        torch.manual_seed(self.seed)
        self.model = model = adapt_model(model)
        model.to(self.device)
        for net in (model.generator, model.discriminator):
            net.to(memory_format=torch.channels_last).train()
        self.opt_g, self.opt_d = plugin_call(cfg.origin, "to build its optimisers", model.optimizers)
        images, labels = data.data.images, data.data.labels
        self.channels = int(images.shape[1])
        on_device = fits_on_device(images.numel() * images.element_size(), self.device)
        self.images = images.to(self.device) if on_device else images.pin_memory() \
            if self.device.type == "cuda" else images
        self.labels = None if labels is None or not model.num_classes else labels.to(self.device)
        self.sampler = distributed.BatchSampler(len(images), cfg.batch_size, self.seed, ctx)
        self.step, self.seconds_before, self.last_ckpt_step = 0, 0.0, -1
        self.last_ckpt: Path | None = None
        self.fixed_z, self.fixed_y = fixed_samples(model, self.seed, self.device)
        self.z_gen = torch.Generator(device=self.device)
        if cfg.resuming:
            self._resume()
        self.step_fn = self._make_step(cfg.compile)

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
                       d_net=d_net, d_plain=d_plain, amp=self.cfg.autocast_enabled(self.device.type))

    def next_batch(self) -> Batch:
        """The next real batch of the sampler (normalised; labels when the model uses them)."""
        idx = self.sampler.next(self.device)
        real = normalize_batch(self.images, idx, self.device)
        y = None if self.labels is None else self.labels.index_select(0, idx.to(self.labels.device))
        return Batch(real, y)

    def take_step(self, limit: float) -> dict[str, Any]:
        """One iteration through the model's ``train_step`` (plugin errors named)."""
        batch = self.next_batch()
        self.z_gen.manual_seed(distributed.seed_for(self.seed, self.step, self.ctx.rank))
        total = None if math.isinf(limit) else int(limit)
        stats = plugin_call(self.cfg.origin, f"in train_step at step {self.step + 1} ({self.kept_text()})", self.step_fn, batch,
                            self.z_gen, step=self.step, total=total, next_batch=self.next_batch)
        return check_step_stats(self.cfg.origin, stats, self.step + 1, self.kept_text())

    @property
    def batches_seen(self) -> int:
        """Global batches drawn so far (the step's own and every ``ctx.next_batch()``)."""
        return self.sampler.epoch * self.sampler.per_epoch + self.sampler.batch

    @property
    def images_seen(self) -> int:
        return self.batches_seen * self.cfg.batch_size

    def extra_state(self) -> dict[str, Any]:
        """The model's ``extra_state()``, checked to be storable in a checkpoint."""
        return check_extra_state(self.cfg.origin, plugin_call(self.cfg.origin, "in extra_state()",
                                                              self.model.extra_state))

    # checkpoints --------------------------------------------------------------------------
    def _state(self, seconds: float) -> dict[str, Any]:
        try:
            config = self.folder.read_config()
        except CheckpointError:
            config = {}
        m = self.model
        return {
            "format": ckpt.FORMAT, "step": self.step, "seconds": seconds,
            "images_seen": self.images_seen, "world_size": self.ctx.world_size,
            "model": self.cfg.model_name, "model_config": ckpt.json_safe(self.cfg.model_config),
            "image_size": int(m.image_size), "channels": self.channels,
            "generator": m.generator.state_dict(), "discriminator": m.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "extra": self.extra_state(),
            "sampler": self.sampler.state_dict(), "rng": ckpt.capture_rng(),
            "config": ckpt.json_safe(config),
        }

    def nonfinite(self) -> list[str]:
        """Names of G's and D's parameters and buffers (and the extra state's tensors) that hold
        NaN or Inf; one device sync."""
        import torch

        m = self.model
        nets = [("generator", m.generator), ("discriminator", m.discriminator)]
        if m.eval_generator() is not m.generator:
            nets.append(("eval_generator", m.eval_generator()))
        named = [(f"{label}.{name}", t) for label, net in nets
                 for name, t in net.state_dict().items() if t.is_floating_point()]
        if not named:
            return []
        flags = torch.stack([torch.isfinite(t).all() for _, t in named]).cpu().tolist()
        bad = [name for (name, _), ok in zip(named, flags, strict=True) if not ok]
        return bad + ckpt.nonfinite_tensors(self.extra_state(), "extra")

    def kept_text(self) -> str:
        return (f"the last good checkpoint {self.last_ckpt} (step {self.last_ckpt_step}) is kept"
                if self.last_ckpt else "no checkpoint had been written yet (start again from step 0 with "
                f"'gansuite run --restart {self.folder.path}')")

    def diverged(self, where: str, what: str) -> DivergenceError:
        """The one-line report of a diverged run (the step, what blew up, what is kept)."""
        return DivergenceError(f"Training diverged {where}: {what}; {self.kept_text()}. Start a new run with "
                               "a lower learning rate (-o lr=...) or another --seed.")

    def check_weights(self) -> None:
        """Stop the run when a parameter or buffer is not finite (all ranks agree)."""
        bad = self.nonfinite()
        if self.ctx.any_true(bool(bad), self.device):
            what = (f"{bad[0]}{f' and {len(bad) - 1} more' if len(bad) > 1 else ''} hold NaN or Inf"
                    if bad else "another process's weights hold NaN or Inf")
            raise self.diverged(f"by step {self.step}", what)

    def save(self, seconds: float) -> None:
        """Checkpoint the current step (rank 0); non-finite weights are never written."""
        self.check_weights()
        if self.ctx.is_main and self.last_ckpt_step != self.step:
            self.last_ckpt = ckpt.save_checkpoint(self.folder.checkpoints, self.step, self._state(seconds))
        self.last_ckpt_step = self.step

    def _resume(self) -> None:
        path, state = ckpt.load_resumable(self.folder.checkpoints, self.cfg.model_name, self.cfg.model_config,
                                          int(self.model.image_size), self.channels, map_location=self.device)
        try:
            self.model.generator.load_state_dict(state["generator"])
            self.model.discriminator.load_state_dict(state["discriminator"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            ckpt.check_declared_state(path, state, self.extra_state(), self.cfg.origin or "the model")
            self.model.load_extra_state(state.get("extra") or {})
            self.sampler.load_state_dict(state["sampler"])
            ckpt.restore_rng(state["rng"])
            self.step, self.seconds_before = int(state["step"]), float(state["seconds"])
        except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CheckpointError(f"{path} does not fit this run's model and optimisers ({type(exc).__name__}: "
                                  f"{first}); it is damaged or not this run's checkpoint.") from None
        self.last_ckpt, self.last_ckpt_step = path, self.step
        if self.ctx.is_main:
            self.folder.truncate_metrics(self.step)

    # samples and metrics ------------------------------------------------------------------
    def write_samples(self) -> None:
        """A grid from the fixed z (one row per class for a conditional model), with batch
        statistics, leaving every buffer untouched."""
        import torch

        from gansuite.contract.images import save_image_grid

        if not self.ctx.is_main:
            return
        m = self.model
        g = m.eval_generator()
        saved = {k: v.clone() for k, v in g.named_buffers()}
        with torch.no_grad(), autocast(self.device, self.step_fn.amp):
            images = m.generate(self.fixed_z, self.fixed_y, net=g).float()
        with torch.no_grad():
            for k, v in g.named_buffers():
                v.copy_(saved[k])
        nrow = N_FIXED_SAMPLES // m.num_classes if m.num_classes else None
        save_image_grid(images, self.folder.samples / f"step-{self.step:09d}.png", nrow=nrow)

    def limit(self) -> tuple[float, str]:
        """The step limit and its reason (``inf`` when only the time budget bounds the run)."""
        cfg, limits = self.cfg, []
        if cfg.max_steps is not None:
            limits.append((float(cfg.max_steps), "max_steps"))
        if cfg.epochs is not None:
            limits.append((float(math.ceil(cfg.epochs * self.sampler.per_epoch)), "epochs"))
        return min(limits, key=lambda t: t[0]) if limits else (math.inf, "time_budget")

    def epochs_done(self) -> bool:
        """``--epochs`` reached, counting every batch drawn (``ctx.next_batch()`` included), so a
        step that takes several batches (critic steps) ends the run after the asked epochs."""
        epochs = self.cfg.epochs
        return epochs is not None and self.batches_seen >= math.ceil(epochs * self.sampler.per_epoch)


def fixed_samples(model: GANModel, seed: int, device: Any) -> tuple[Any, Any]:
    """The run's fixed sample-grid latents (and labels: each class in a row of equal length)."""
    import torch

    per_row = max(1, N_FIXED_SAMPLES // model.num_classes) if model.num_classes else 0
    n = per_row * model.num_classes if model.num_classes else N_FIXED_SAMPLES
    gen = torch.Generator().manual_seed(distributed.seed_for(seed, 0x5A3))
    z = model.sample_z(n, generator=gen, device="cpu").to(device)
    y = torch.arange(model.num_classes).repeat_interleave(per_row).to(device) if model.num_classes else None
    return z, y


def train(model: GANModel, cfg: TrainConfig, folder: RunFolder, data: TrainingData) -> TrainOutcome:
    """Train ``model`` on ``data`` into ``folder`` under ``cfg`` (see the module docstring)."""
    ctx = distributed.init(cfg.device)
    try:
        trainer = _Trainer(model, cfg, folder, data, ctx)
        return _loop(trainer)
    finally:
        distributed.shutdown(ctx)


def _progress(trainer: _Trainer, total: float) -> Any:
    return progress(total=total, initial=trainer.step, unit="step", desc=trainer.cfg.model_name,
                    enabled=trainer.cfg.progress and trainer.ctx.is_main, leave=True)


def _loop(t: _Trainer) -> TrainOutcome:
    """The training loop: stop at the step limit or the time budget, whichever comes first."""
    limit, reason = t.limit()
    budget = t.cfg.time_budget if t.cfg.time_budget is not None else math.inf
    log, bar = StepLog(t), _progress(t, limit)
    start = time.monotonic()
    stopped = reason
    with deferred_stop() as stop:
        stopped = _steps(t, limit, budget, start, log, bar, stop) or stopped
    log.flush(final=True)
    seconds = t.seconds_before + time.monotonic() - start
    bar.close()
    return _finish(t, seconds, stopped)


def _postfix(stats: dict[str, float], rate: float, left: float) -> dict[str, str]:
    shown = {"img_s": f"{rate:.0f}"}
    shown.update((k, f"{v:.3g}") for k, v in list(stats.items())[:4])
    if math.isfinite(left):
        shown["left"] = f"{left:.0f}s"
    return shown


def _steps(t: _Trainer, limit: float, budget: float, start: float, log: StepLog, bar: Any,
           stop: StopRequest) -> str | None:
    """Run steps until a limit; returns why it stopped early (None: the step limit)."""
    cfg = t.cfg
    every = (cfg.log_every, cfg.checkpoint_every, cfg.sample_every)
    while t.step < limit:
        # every rank must take part in the same collectives: check at log boundaries under DDP
        if (not t.ctx.enabled or t.step % cfg.log_every == 0) and t.ctx.any_true(stop.requested, t.device):
            return "interrupted"
        if cfg.stop_after is not None and t.step >= cfg.stop_after:
            return "interrupted"
        elapsed = t.seconds_before + time.monotonic() - start
        over = elapsed >= budget
        if math.isfinite(budget) and t.ctx.any_true(over, t.device):
            return "time_budget"
        if t.epochs_done():
            return "epochs"
        try:
            step_stats = t.take_step(limit)
        except DivergenceError:
            log.flush(final=True)  # the rows of the steps before it are kept
            raise
        log.add(t.step + 1, step_stats, t.batches_seen)
        t.step += 1
        bar.update(1)
        if any(t.step % e == 0 for e in every):
            stats = log.flush()
            bar.set_postfix(_postfix(stats, log.rate, budget - elapsed), refresh=False)
            if t.step % cfg.sample_every == 0:
                t.write_samples()
            if t.step % cfg.checkpoint_every == 0:
                t.save(t.seconds_before + time.monotonic() - start)
    return None


def _finish(t: _Trainer, seconds: float, stopped: str) -> TrainOutcome:
    from gansuite.engine.plots import save_loss_curve

    if t.step % t.cfg.sample_every:
        t.write_samples()
    t.save(seconds)
    t.ctx.check_in_sync([t.model.generator, t.model.discriminator], t.device)
    if t.ctx.is_main:
        save_loss_curve(t.folder.read_metrics(), t.folder.samples / "loss-curve.png", title=t.cfg.title)
    for net in (t.model.generator, t.model.discriminator, t.model.eval_generator()):
        net.eval()
    return TrainOutcome(
        model=t.model, steps=t.step, images_seen=t.images_seen, seconds=seconds,
        stopped_because=stopped, last_checkpoint=str(t.last_ckpt) if t.last_ckpt else None,
        device=str(t.device), world_size=t.ctx.world_size,
        precision="bf16-autocast" if t.step_fn.amp else "fp32",
    )
