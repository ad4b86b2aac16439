"""Exact resume of the GAN families: a run killed with SIGKILL and resumed ends bit-identical to an
uninterrupted one, EMA weights and learning-rate schedule included (as tests/test_resume.py
checks for dcgan)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gansuite.engine import checkpoint as ckpt
from gansuite.engine.runfolder import RunFolder

REPO = Path(__file__).resolve().parents[1]
STEPS = 20
EXTRAS = ["-o", "ema=true", "-o", "ema_decay=0.9", "-o", "lr_decay=linear"]
MODELS = {
    # the critic's 5 fresh batches per step move the data position 5x as fast
    "wgan-gp": ["-o", "dim=4", *EXTRAS],
    "sngan": ["-o", "ch=16", "-o", "r1_gamma=1.0", *EXTRAS],
    "sngan-projection": ["-o", "ch=16", "-o", "n_dis=2", *EXTRAS],
}


def _args(model: str) -> list[str]:
    return ["--model", model, "--dataset", "fake", "-o", "n=256", *MODELS[model], "--batch-size", "16",
            "--max-steps", str(STEPS), "--checkpoint-every", "5", "--log-every", "1", "--sample-every", "10",
            "--device", "cpu", "--seed", "7", "--no-progress"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANSUITE_")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _gansuite(*args: str) -> list[str]:
    return [sys.executable, "-m", "gansuite", "run", *args]


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _kill_after_first_checkpoint(model: str, run_dir: Path) -> int:
    log = run_dir.parent / f"{run_dir.name}.stderr"
    with open(log, "wb") as err:
        proc = subprocess.Popen(_gansuite(*_args(model), "--out", str(run_dir)), env=_env(), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 240
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if ckpt.list_checkpoints(run_dir / "checkpoints"):
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, log.read_text()
    return ckpt.list_checkpoints(run_dir / "checkpoints")[-1][0]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_sigkill_then_resume_is_bit_identical(model: str, tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    full = subprocess.run(_gansuite(*_args(model), "--out", str(straight)), env=_env(), cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stderr

    at = _kill_after_first_checkpoint(model, killed)
    assert 5 <= at < STEPS, f"the run was not interrupted mid-way (latest checkpoint: step {at})"
    resumed = subprocess.run(_gansuite("--resume", str(killed), "--no-progress"), env=_env(), cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr

    path = ckpt.checkpoint_path
    a = torch.load(path(straight / "checkpoints", STEPS), weights_only=True)
    b = torch.load(path(killed / "checkpoints", STEPS), weights_only=True)
    for key in ("generator", "discriminator", "opt_g", "opt_d", "sampler", "step", "extra"):
        assert _equal(a[key], b[key]), f"{key} differs after resuming from step {at}"
    assert _equal(a["rng"]["torch"], b["rng"]["torch"])
    extra = a["extra"]
    assert extra["ema"]["updates"] == STEPS and extra["lr_schedule"]["last_step"] == STEPS - 1
    # the EMA is not G, and the rate fell linearly (step 19 of 20: 1/20 of the base rate)
    assert not _equal(extra["ema"]["weights"], a["generator"])
    assert a["opt_g"]["param_groups"][0]["lr"] == pytest.approx(extra["lr_schedule"]["base_lrs"][0] / STEPS)

    rows_a, rows_b = RunFolder(straight).read_metrics(), RunFolder(killed).read_metrics()
    assert [r["step"] for r in rows_b] == list(range(1, STEPS + 1))
    assert [{k: v for k, v in r.items() if k != "images_per_s"} for r in rows_a] == \
           [{k: v for k, v in r.items() if k != "images_per_s"} for r in rows_b]
