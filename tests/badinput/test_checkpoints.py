"""Checkpoints that are not the run's, not finite, damaged or crafted; divergence; --restart."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from gansuite.engine import checkpoint as ckpt

from .helpers import TINY, gs, one_line, tree

EVAL = ("--eval", "fake-pixel-stats", "--device", "cpu", "--no-progress")


@pytest.fixture(scope="session")
def _other_runs(tmp_path_factory):
    """A tiny-gan run and a wider dcgan run, whose checkpoints are planted into the trained run."""
    from gansuite._host.manager import reset_catalog

    base = tmp_path_factory.mktemp("others")
    with pytest.MonkeyPatch.context() as mp:  # tiny-gan is the example plugin's
        mp.setenv("GANSUITE_LOAD_PLUGINS", "gansuite,gansuite-example")
        reset_catalog()
        for name, args in (("tiny", ["--model", "tiny-gan", "--dataset", "fake", "-o", "n=64", "--batch-size", "8",
                                     "--device", "cpu", "--no-progress"]),
                           ("wide", [*TINY[:4], "-o", "ngf=8", "-o", "ndf=8", *TINY[8:]])):
            res = gs("run", *args, "--max-steps", "2", "--checkpoint-every", "2", "--out", base / name)
            reset_catalog()
            assert res.code == 0, res.err
    return base


def _latest(run: Path) -> Path:
    return ckpt.list_checkpoints(run / "checkpoints")[-1][1]


def _plant(run: Path, source: Path, step: int = 6) -> Path:
    dest = ckpt.checkpoint_path(run / "checkpoints", step)
    shutil.copy(source, dest)
    return dest


def _both(run: Path, *fragments: str) -> None:
    """``eval`` and ``--resume`` both refuse, in one line, and change nothing."""
    before = tree(run)
    one_line(gs("eval", run, *EVAL), *fragments)
    one_line(gs("run", "--resume", run, "--max-steps", "8"), *fragments)
    after = tree(run)
    after.pop(".lock", None), before.pop(".lock", None)
    assert after == before


@pytest.mark.parametrize("where", ["generator", "discriminator"])
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_nonfinite_checkpoint_refused(trained, where, value):
    path = _latest(trained)
    state = torch.load(path, weights_only=True)
    key = next(k for k in state[where] if k.endswith("running_var") or k.endswith("weight"))
    tensor = state[where][key]
    tensor[(0,) * tensor.dim()] = value
    torch.save(state, path)
    _both(trained, "NaN or Inf", str(path))


def test_checkpoint_of_another_model_refused(trained, _other_runs):
    _plant(trained, _latest(_other_runs / "tiny"))
    _both(trained, "tiny-gan", "not this run's")


def test_checkpoint_of_other_widths_refused(trained, _other_runs):
    _plant(trained, _latest(_other_runs / "wide"))
    _both(trained, "not this run's")


def test_forged_options_with_other_widths_refused(trained, _other_runs):
    """A wider checkpoint whose recorded options were edited to match: the weights do not fit."""
    wide = torch.load(_latest(_other_runs / "wide"), weights_only=True)
    wide["model_config"] = torch.load(_latest(trained), weights_only=True)["model_config"]
    torch.save(wide, ckpt.checkpoint_path(trained / "checkpoints", 6))
    _both(trained, "does not fit")


def test_architecture_record_mismatch_refused(trained):
    config = json.loads((trained / "config.json").read_text())
    config["architecture"]["generator_parameters"] += 1
    (trained / "config.json").write_text(json.dumps(config))
    _both(trained, "architecture")


def test_crafted_checkpoint_runs_nothing(trained, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = ckpt.checkpoint_path(trained / "checkpoints", 6)
    torch.save({"format": 1, "step": 6, "x": Payload()}, path)
    res = gs("eval", trained, *EVAL)  # the newest is refused; the one before it is used
    assert res.code == 0 and "Warning:" in res.err and "Traceback" not in res.err, res.err
    assert not marker.exists()
    for _, older in ckpt.list_checkpoints(trained / "checkpoints")[:-1]:
        shutil.copy(path, older)
    _both(trained, "No readable checkpoint")
    assert not marker.exists()


@pytest.mark.parametrize("field", ["step", "model", "generator", "image_size"])
def test_checkpoint_with_damaged_fields(trained, field):
    for _, path in ckpt.list_checkpoints(trained / "checkpoints"):
        state = torch.load(path, weights_only=True)
        state[field] = "damaged" if field != "model" else 7
        torch.save(state, path)
    _both(trained, "damaged")


@pytest.mark.parametrize("how", ["truncated", "empty", "text"])
def test_unreadable_checkpoints(trained, how):
    for _, path in ckpt.list_checkpoints(trained / "checkpoints"):
        data = path.read_bytes()
        path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "text": b"hello"}[how])
    _both(trained, "No readable checkpoint")


def test_no_checkpoint_resume_says_restart_and_restart_works(trained):
    shutil.rmtree(trained / "checkpoints")
    line = one_line(gs("run", "--resume", trained, "--max-steps", "3"))
    assert f"gansuite run --restart {trained}" in line
    line = one_line(gs("run", *TINY, "--max-steps", "3", "--out", trained))
    assert f"gansuite run --restart {trained}" in line
    res = gs("run", "--restart", trained, "--max-steps", "3")
    assert res.code == 0, res.err
    steps = [json.loads(r)["step"] for r in (trained / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3], "the restarted run kept rows of the first attempt"
    assert [s for s, _ in ckpt.list_checkpoints(trained / "checkpoints")] == [2, 3]


def test_restart_refused_once_there_are_checkpoints(trained):
    before = tree(trained)
    one_line(gs("run", "--restart", trained, "--max-steps", "3"), "--resume")
    assert tree(trained) == before


def _all_finite(run: Path) -> list[int]:
    steps = []
    for step, path in ckpt.list_checkpoints(run / "checkpoints"):
        ckpt.check_finite_state(path, ckpt.load_checkpoint(path))
        steps.append(step)
    return steps


@pytest.mark.parametrize("extra", [[], ["--max-loss", "inf"]], ids=["loss-bound", "weights"])
def test_huge_learning_rate_stops_with_only_finite_checkpoints(cwd, extra):
    out = cwd / "r"
    line = one_line(gs("run", *TINY, "-o", "lr=1e10", "--max-steps", "40", "--checkpoint-every", "1",
                       "--log-every", "1", "--out", out, *extra), "diverged", "step")
    _all_finite(out)
    assert "NaN or Inf" in line if extra else ("--max-loss" in line or "NaN or Inf" in line)


def test_max_loss_is_recorded_and_kept_on_resume(trained):
    res = gs("run", "--resume", trained, "--max-steps", "5", "--max-loss", "1e-9")
    line = one_line(res, "diverged at step 5", "--max-loss 1e-09")
    assert "step-000000004.pt (step 4) is kept" in line
    assert _all_finite(trained)[-1] == 4


def test_temp_files_are_cleaned_on_resume(trained):
    leftovers = [trained / "checkpoints" / ".step-000000006.pt.k2j3.tmp", trained / ".config.json.a1.tmp",
                 trained / "samples" / ".step-000000006.png.zz.tmp"]
    for path in leftovers:
        path.write_bytes(b"half")
    res = gs("run", "--resume", trained, "--max-steps", "5")
    assert res.code == 0, res.err
    assert not any(p.exists() for p in leftovers)


def test_pickle_is_what_plain_torch_load_would_run(tmp_path):
    """The control of the crafted-checkpoint case: a full (unsafe) load runs the payload."""
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "c.pt"
    path.write_bytes(pickle.dumps(Payload()))
    pickle.loads(path.read_bytes())
    assert marker.exists()
