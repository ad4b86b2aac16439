"""Exact resume: a run killed with SIGKILL and resumed ends bit-identical to an uninterrupted one.

Also: a kill while a checkpoint is being written leaves the previous one readable, and loading
never executes code from a checkpoint (weights-only).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import torch
from helpers import REPO, equal_state, gansuite_run, kill_after_first_checkpoint, run_env

from gansuite.contract.errors import CheckpointError
from gansuite.engine import checkpoint as ckpt
from gansuite.engine.runfolder import RunFolder

_ENV = run_env("gansuite,gansuite-example")  # the wgan-gp-ema case is the example's model
STEPS = 40
COMMON = ["--dataset", "fake", "-o", "n=256", "--batch-size", "32", "--max-steps", str(STEPS),
          "--checkpoint-every", "5", "--log-every", "1", "--sample-every", "20", "--device", "cpu",
          "--seed", "7", "--no-progress"]
CASES = {  # the default step, and a model's own step with fresh critic batches and an EMA generator
    "dcgan": ["--model", "dcgan", "-o", "ngf=16", "-o", "ndf=16", *COMMON],
    "wgan-gp-ema": ["--model", "example-wgan-gp", "-o", "width=8", "-o", "n_critic=3", "-o", "ema_decay=0.9",
                    *COMMON],
}


def _state(run_dir: Path) -> dict:
    path = ckpt.checkpoint_path(run_dir / "checkpoints", STEPS)
    return torch.load(path, weights_only=True)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_sigkill_then_resume_is_bit_identical(tmp_path, case):
    args = CASES[case]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    full = subprocess.run(gansuite_run(*args, "--out", str(straight)), env=_ENV, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stderr

    at = kill_after_first_checkpoint(killed, args, _ENV)
    assert 5 <= at < STEPS, f"the run was not interrupted mid-way (latest checkpoint: step {at})"
    rows_before = RunFolder(killed).read_metrics()

    resumed = subprocess.run(gansuite_run("--resume", str(killed), "--no-progress"), env=_ENV, cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr

    a, b = _state(straight), _state(killed)
    for key in ("generator", "discriminator", "opt_g", "opt_d", "extra", "sampler", "step"):
        assert equal_state(a[key], b[key]), f"{key} differs after resuming from step {at}"
    assert equal_state(a["rng"]["torch"], b["rng"]["torch"])

    # metrics.jsonl was cut back to the checkpoint, so every step appears once, with equal losses.
    rows_a, rows_b = RunFolder(straight).read_metrics(), RunFolder(killed).read_metrics()
    assert [r["step"] for r in rows_b] == list(range(1, STEPS + 1))
    assert len(rows_before) >= at
    if case == "wgan-gp-ema":
        assert a["extra"]["ema"] and not equal_state(a["extra"]["ema"], a["generator"])  # an EMA, not a copy
    keys = [k for k in rows_a[-1] if k != "images_per_s"]
    assert {"loss_d", "loss_g"} <= set(keys)
    assert [[r[k] for k in keys] for r in rows_a] == [[r[k] for k in keys] for r in rows_b]
    assert RunFolder(killed).read_config()["resumed"] == 1


def _tiny_state(step: int) -> dict:
    return {"format": ckpt.FORMAT, "step": step, "generator": {"w": torch.full((3,), float(step))}}


def test_kill_during_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    directory = tmp_path / "checkpoints"
    ckpt.save_checkpoint(directory, 5, _tiny_state(5))
    real_save = torch.save

    def dies_halfway(obj, fh):
        real_save(obj, fh)
        fh.seek(0)
        fh.truncate(10)  # half a file on disk, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(directory, 10, _tiny_state(10))
    monkeypatch.undo()
    assert [s for s, _ in ckpt.list_checkpoints(directory)] == [5]
    assert not list(directory.glob("*.tmp"))
    path, state = ckpt.load_latest(directory)
    assert state["step"] == 5 and path.name == "step-000000005.pt"


def test_torn_temp_files_are_ignored_and_a_corrupt_latest_falls_back(tmp_path, capsys):
    directory = tmp_path / "checkpoints"
    ckpt.save_checkpoint(directory, 5, _tiny_state(5))
    ckpt.save_checkpoint(directory, 10, _tiny_state(10))
    (directory / ".step-000000015.pt.abc123.tmp").write_bytes(b"\x80\x02torn")
    assert [s for s, _ in ckpt.list_checkpoints(directory)] == [5, 10]
    ckpt.checkpoint_path(directory, 10).write_bytes(b"not a checkpoint")
    path, state = ckpt.load_latest(directory)
    assert state["step"] == 5 and "trying the previous checkpoint" in capsys.readouterr().err
    ckpt.checkpoint_path(directory, 5).write_bytes(b"")
    with pytest.raises(CheckpointError, match="No readable checkpoint"):
        ckpt.load_latest(directory)


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_checkpoints_load_weights_only(tmp_path):
    path = tmp_path / "step-000000001.pt"
    torch.save({"format": ckpt.FORMAT, "step": 1, "evil": _Payload()}, path)
    with pytest.raises(CheckpointError, match="Cannot read checkpoint"):
        ckpt.load_checkpoint(path)


def test_rng_states_round_trip_through_a_weights_only_file(tmp_path):
    import random

    import numpy as np

    torch.save(ckpt.capture_rng(), tmp_path / "rng.pt")
    expected = (torch.rand(3), random.random(), np.random.rand())
    ckpt.restore_rng(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert torch.equal(torch.rand(3), expected[0])
    assert random.random() == expected[1] and np.random.rand() == expected[2]


def test_resume_without_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(CheckpointError, match="--restart"):
        ckpt.load_latest(tmp_path / "checkpoints")
