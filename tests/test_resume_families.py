"""Exact resume of the GAN families: a run killed with SIGKILL and resumed ends bit-identical to an
uninterrupted one, EMA weights and learning-rate schedule included (as tests/test_resume.py
checks for dcgan)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch
from helpers import REPO, equal_state, gansuite_run, kill_after_first_checkpoint, run_env

from gansuite.engine import checkpoint as ckpt
from gansuite.engine.runfolder import RunFolder

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


@pytest.mark.parametrize("model", sorted(MODELS))
def test_sigkill_then_resume_is_bit_identical(model: str, tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    full = subprocess.run(gansuite_run(*_args(model), "--out", str(straight)), env=run_env(), cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stderr

    at = kill_after_first_checkpoint(killed, _args(model), run_env())
    assert 5 <= at < STEPS, f"the run was not interrupted mid-way (latest checkpoint: step {at})"
    resumed = subprocess.run(gansuite_run("--resume", str(killed), "--no-progress"), env=run_env(), cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr

    path = ckpt.checkpoint_path
    a = torch.load(path(straight / "checkpoints", STEPS), weights_only=True)
    b = torch.load(path(killed / "checkpoints", STEPS), weights_only=True)
    for key in ("generator", "discriminator", "opt_g", "opt_d", "sampler", "step", "extra"):
        assert equal_state(a[key], b[key]), f"{key} differs after resuming from step {at}"
    assert equal_state(a["rng"]["torch"], b["rng"]["torch"])
    extra = a["extra"]
    assert extra["ema"]["updates"] == STEPS and extra["lr_schedule"]["last_step"] == STEPS - 1
    # the EMA is not G, and the rate fell linearly (step 19 of 20: 1/20 of the base rate)
    assert not equal_state(extra["ema"]["weights"], a["generator"])
    assert a["opt_g"]["param_groups"][0]["lr"] == pytest.approx(extra["lr_schedule"]["base_lrs"][0] / STEPS)

    rows_a, rows_b = RunFolder(straight).read_metrics(), RunFolder(killed).read_metrics()
    assert [r["step"] for r in rows_b] == list(range(1, STEPS + 1))
    assert [{k: v for k, v in r.items() if k != "images_per_s"} for r in rows_a] == \
           [{k: v for k, v in r.items() if k != "images_per_s"} for r in rows_b]
