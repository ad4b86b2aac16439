"""What plugins hand back, checked where it enters the host: train_step's stats, extra_state(),
a probe's rows; the conformance kit applies the same checks. Batches drawn through
ctx.next_batch() count as seen images and epochs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gansuite import PluginError
from gansuite.engine.checks import RESERVED_ROW_KEYS
from gansuite.evaluation.evaluate import PROVENANCE_KEYS

from .helpers import gs, one_line, tree

DATA = ("--dataset", "fake", "-o", "fake.n=32", "--batch-size", "8", "--device", "cpu", "--no-progress")


def _checkpoints(run):
    return sorted(p.name for p in (run / "checkpoints").glob("*.pt"))


@pytest.mark.parametrize("kind", ["str", "vec", "obj", "list", "none", "complex"])
def test_bad_stat_at_the_first_step_names_plugin_and_key(badplug, cwd, monkeypatch, kind):
    monkeypatch.setenv("BADPLUG_STATS", kind)
    line = one_line(gs("run", "--model", "bad-stats", *DATA, "--max-steps", "3", "--log-every", "100",
                       "--out", cwd / "r"), "'bad-stats'", "badplug", "'loss_d'", "step 1")
    assert "no checkpoint had been written yet" in line and f"--restart {cwd / 'r'}" in line
    assert "is kept" not in line  # no checkpoint is promised
    assert _checkpoints(cwd / "r") == [] and not (cwd / "r" / "metrics.jsonl").exists()


def test_train_step_returning_no_mapping(badplug, cwd, monkeypatch):
    monkeypatch.setenv("BADPLUG_STATS", "mapping")
    one_line(gs("run", "--model", "bad-stats", *DATA, "--max-steps", "2", "--out", cwd / "r"),
             "'bad-stats'", "non-empty mapping", "list", "step 1")


@pytest.mark.parametrize("kind", ["vec", "nan"])
def test_bad_stat_after_a_checkpoint_on_resume_changes_nothing(badplug, cwd, monkeypatch, kind):
    run = cwd / "r"
    monkeypatch.setenv("BADPLUG_STATS", kind)
    monkeypatch.setenv("BADPLUG_STATS_FROM", "3")
    res = gs("run", "--model", "bad-stats", *DATA, "--max-steps", "2", "--checkpoint-every", "2",
             "--log-every", "1", "--out", run)
    assert res.code == 0, res.err
    before = tree(run)
    line = one_line(gs("run", "--resume", run, "--max-steps", "4", "--device", "cpu", "--no-progress"), "step 3",
                    "'loss_d'",
                    "step-000000002.pt (step 2) is kept")
    assert ("diverged" in line) == (kind == "nan")
    after = tree(run)
    config_before, config_after = (json.loads(t.pop("config.json")) for t in (before, after))
    assert after == before, sorted(k for k in after if after.get(k) != before.get(k))
    # the one change: config.json records the resume attempt
    assert {k: v for k, v in config_after.items() if k not in ("resumed", "max_steps")} == {
        k: v for k, v in config_before.items() if k not in ("resumed", "max_steps")}


def test_extra_state_a_checkpoint_cannot_hold(badplug, cwd):
    line = one_line(gs("run", "--model", "bad-extra", *DATA, "--max-steps", "2", "--out", cwd / "r"),
                    "'bad-extra'", "extra_state()", "schedule", "object")
    assert _checkpoints(cwd / "r") == [], line


@pytest.mark.parametrize(("kind", "fragment"), [("str", "value is not a number"), ("bool", "value is not a number"),
                                                ("none", "value is not a number"), ("tensor", "value is not a number"),
                                                ("reserved", "keys the host sets (seed, precision)")])
def test_bad_result_rows_are_refused_nothing_written(badplug, trained, monkeypatch, kind, fragment):
    monkeypatch.setenv("BADPLUG_ROWS", kind)
    before = tree(trained)
    line = one_line(gs("eval", trained, "--eval", "bad-rows-eval", "--device", "cpu", "--no-progress"),
                    "Probe 'bad-rows'", "badplug", fragment)
    if kind == "reserved":
        assert ", ".join(RESERVED_ROW_KEYS) in line
    assert tree(trained) == before


def test_resume_refuses_a_checkpoint_without_the_declared_ema(cwd):
    run = cwd / "w"
    args = ("--model", "example-wgan-gp", "-o", "ema_decay=0.9", "-o", "n_critic=1", *DATA)
    res = gs("run", *args, "--max-steps", "2", "--checkpoint-every", "2", "--out", run)
    assert res.code == 0, res.err
    path = run / "checkpoints" / "step-000000002.pt"
    state = torch.load(path, weights_only=True)
    assert "ema" in state["extra"]
    del state["extra"]["ema"]
    torch.save(state, path)
    before = tree(run)
    one_line(gs("run", "--resume", run, "--max-steps", "4", "--no-progress"), str(path), "extra.ema",
             "--restart")
    one_line(gs("eval", run, "--eval", "fake-pixel-stats", "--device", "cpu", "--no-progress"), str(path),
             "extra.ema")  # evaluating would score a fresh copy of G as the EMA
    assert tree(run) == before


def test_next_batch_counts_toward_epochs_and_images(cwd):
    """5 critic steps, each on a fresh batch: --epochs 1 of 4 batches ends after 1 step (5 batches),
    not after 4 steps (20 batches, 5 epochs)."""
    run = cwd / "w"
    res = gs("run", "--model", "example-wgan-gp", "-o", "n_critic=5", *DATA, "--epochs", "1", "--log-every", "1",
             "--out", run)
    assert res.code == 0, res.err
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1] and rows[0]["epoch"] == pytest.approx(5 / 4)
    state = torch.load(run / "checkpoints" / "step-000000001.pt", weights_only=True)
    assert state["images_seen"] == 5 * 8


def test_the_kit_applies_the_hosts_checks(badplug, tmp_path, monkeypatch):
    """The same checks, from the same code: the kit raises the host's one line."""
    from gansuite._host.manager import reset_catalog
    from gansuite.testing import check_model, check_probe

    reset_catalog()
    monkeypatch.setenv("BADPLUG_STATS", "vec")
    with pytest.raises(PluginError, match=r"'loss_d' as a tensor of shape \(3,\)"):
        check_model("bad-stats", tmp_path=tmp_path / "m", image_size=16)
    with pytest.raises(PluginError, match=r"extra_state\(\) holds extra_state.schedule \(object\)"):
        check_model("bad-extra", tmp_path=tmp_path / "x", image_size=16)
    monkeypatch.setenv("BADPLUG_ROWS", "reserved")
    with pytest.raises(PluginError, match=r"keys the host sets \(seed, precision\)"):
        check_probe("bad-rows", tmp_path=tmp_path / "p")
    monkeypatch.setenv("BADPLUG_ROWS", "str")
    with pytest.raises(PluginError, match="value is not a number"):
        check_probe("bad-rows", tmp_path=tmp_path / "p")
    reset_catalog()


def test_reserved_keys_are_the_provenance_and_the_eval_time():
    assert set(RESERVED_ROW_KEYS) == {*PROVENANCE_KEYS, "eval_seconds"}
    docs = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    assert all(f"`{k}`" in docs for k in RESERVED_ROW_KEYS)
