"""The training loop's log: per-step stats held as device tensors, checked for divergence and
written to ``metrics.jsonl`` in batches (one device sync per flush)."""

from __future__ import annotations

import math
import time
from typing import Any

from gansuite.engine.device import synchronize

__all__ = ["StepLog"]


class StepLog:
    """Per-step stats held as device tensors and written out in batches (one sync per flush)."""

    def __init__(self, trainer: Any) -> None:
        self.t = trainer
        self.pending: list[tuple[int, dict[str, Any]]] = []
        self.batches: dict[int, int] = {}  # step -> global batches drawn by its end
        self.last_time, self.last_batches = time.monotonic(), trainer.batches_seen
        self.rate = 0.0

    def add(self, step: int, stats: dict[str, Any], batches: int) -> None:
        """Hold ``stats`` of ``step``; ``batches``: global batches drawn by its end (epoch, rate)."""
        self.pending.append((step, stats))
        self.batches[step] = batches

    def flush(self, final: bool = False) -> dict[str, float]:
        """Check for divergence, write due metrics rows; returns the latest stats."""
        import torch

        t = self.t
        if not self.pending:
            return {}
        flat = [torch.as_tensor(v, device=t.device).detach().float().reshape(())
                for _, stats in self.pending for v in stats.values()]
        values = torch.stack(flat).cpu().tolist()
        rows, i = [], 0
        for step, stats in self.pending:
            rows.append((step, dict(zip(stats, values[i:i + len(stats)], strict=True))))
            i += len(stats)
        self.pending = []
        batches, self.batches = self.batches, {}
        synchronize(t.device)
        now = time.monotonic()
        self.rate = (batches[rows[-1][0]] - self.last_batches) * t.cfg.batch_size / max(now - self.last_time, 1e-9)
        self.last_time, self.last_batches = now, batches[rows[-1][0]]
        bad = next(((step, why) for step, r in rows if (why := self._blown(r))), None)
        if t.ctx.any_true(bad is not None, t.device):
            self._write([r for r in rows if bad is None or r[0] < bad[0]], batches, final)
            if bad is None:
                raise t.diverged(f"on another process by step {rows[-1][0]}", "a logged value blew up")
            raise t.diverged(f"at step {bad[0]}", bad[1])
        t.check_weights()
        self._write(rows, batches, final)
        return rows[-1][1]

    def _blown(self, row: dict[str, float]) -> str:
        """Why a row of logged values shows divergence ('' when it does not)."""
        bound = self.t.cfg.max_loss
        for key, value in row.items():
            if not math.isfinite(value):
                return f"{key} = {value}"
            if "loss" in key and abs(value) > bound:
                return f"{key} = {value:.3g} exceeds the bound --max-loss {bound:g}"
        return ""

    def _write(self, rows: list[tuple[int, dict[str, float]]], batches: dict[int, int], final: bool) -> None:
        t = self.t
        if not t.ctx.is_main:
            return
        every, out = t.cfg.log_every, []
        for i, (step, stats) in enumerate(rows):
            if step % every == 0 or (final and i == len(rows) - 1):
                row: dict[str, Any] = {"step": step, "epoch": round(batches[step] / t.sampler.per_epoch, 4)}
                row.update((k, round(v, 6)) for k, v in stats.items())
                row["images_per_s"] = round(self.rate, 2)
                out.append(row)
        if out:
            t.folder.append_metrics(out)
