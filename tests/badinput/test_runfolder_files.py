"""Damaged run-folder files (config.json, results.json, metrics.jsonl) that may even parse."""

from __future__ import annotations

import json
import shutil

import pytest

from .helpers import gs, one_line, tree

CONFIGS = {
    "a JSON list": "[1, 2, 3]",
    "not JSON": "{'model': dcgan",
    "empty": "",
    "no model": None,  # the real config without "model"
    "seed as text": ("seed", "abc"),
    "options not strings": ("options", [1, 2]),
    "unknown model": ("model", "no-such-model"),
    "batch_size null": ("batch_size", None),
}
EVAL_ONLY = {"model_config a string": ("model_config", "ngf=4")}  # a resume replays -o, not model_config
CONFIGS_ALL = {**CONFIGS, **EVAL_ONLY}


def _damage_config(run, how):
    path = run / "config.json"
    if isinstance(how, str):
        path.write_text(how)
        return
    config = json.loads(path.read_text())
    if how is None:
        del config["model"]
    else:
        config[how[0]] = how[1]
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("how", list(CONFIGS), ids=list(CONFIGS))
def test_damaged_config_resume_one_line(trained, how):
    _damage_config(trained, CONFIGS[how])
    before = tree(trained)
    one_line(gs("run", "--resume", trained, "--max-steps", "6"))
    assert tree(trained) == before, "a refused resume changed the run folder"


@pytest.mark.parametrize("how", ["a JSON list", "not JSON", "no model", "model_config a string", "unknown model"])
def test_damaged_config_eval_one_line(trained, how):
    _damage_config(trained, CONFIGS_ALL[how])
    before = tree(trained)
    one_line(gs("eval", trained, "--eval", "fake-pixel-stats", "--device", "cpu", "--no-progress"))
    assert tree(trained) == before


@pytest.mark.parametrize("content", ["{}", "[1, 2]", "not json", '{"rows": []}'])
def test_damaged_results_json_spares_the_other_runs(trained, tmp_path, content):
    runs = tmp_path / "runs"
    runs.mkdir()
    good = runs / "good"
    shutil.copytree(trained, good)
    shutil.move(trained, runs / "bad")
    (runs / "bad" / "results.json").write_text(content)
    res = gs("results", runs, "--format", "csv")
    assert res.code == 0, res.err
    warnings = [line for line in res.lines if line.startswith("Warning:")]
    assert len(warnings) == 1 and "results.json" in warnings[0] and "Traceback" not in res.err
    assert "\ngood," in res.out


@pytest.mark.parametrize("how", ["a JSON list", "not JSON"])
def test_damaged_config_results_skips_the_run(trained, tmp_path, how):
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(trained, runs / "good")
    shutil.move(trained, runs / "bad")
    _damage_config(runs / "bad", CONFIGS[how])
    res = gs("results", runs, "--format", "csv")
    assert res.code == 0, res.err
    assert len(res.lines) == 1 and res.lines[0].startswith("Warning:") and "Skipping" in res.lines[0]
    assert "\ngood," in res.out and "\nbad," not in res.out


def test_damaged_results_json_compare_warns(trained, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(trained, other)
    (other / "results.json").write_text("[1, 2]")
    res = gs("compare", trained, other)
    assert res.code == 0, res.err
    assert len(res.lines) == 1 and res.lines[0].startswith("Warning:")


def test_damaged_config_compare_one_line(trained, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(trained, other)
    (other / "config.json").write_text("[]")
    one_line(gs("compare", trained, other), "config.json")


@pytest.mark.parametrize("rows", ['[1, 2]\n', '{"step": "x", "loss_d": 1}\n', '"text"\n', "\x00\xff garbage\n",
                                  '{"step": 1, "loss_d": "nan?"}\n'])
def test_damaged_metrics_rows_are_named_by_results_and_ignored_by_resume(trained, rows):
    with open(trained / "metrics.jsonl", "a") as fh:
        fh.write(rows)
    res = gs("results", trained, "--format", "csv")
    if rows.startswith(("[", '{"step": "x"', '"')):  # parses, but gansuite never wrote it: named, not dropped
        one_line(res, "metrics.jsonl line 5")
    else:  # a torn last line (a kill) is ignored; a non-numeric loss is shown as written
        assert res.code == 0 and "Traceback" not in res.err, res.err
    res = gs("run", "--resume", trained, "--max-steps", "5")
    assert res.code == 0, res.err
    steps = [json.loads(line).get("step") for line in (trained / "metrics.jsonl").read_text().splitlines()
             if line.startswith("{")]
    assert steps[:4] == [1, 2, 3, 4] and steps[-1] == 5


def test_damaged_results_json_eval_refuses_before_work(trained):
    (trained / "results.json").write_text('{"not": "a list"}')
    before = tree(trained)
    one_line(gs("eval", trained, "--eval", "fake-pixel-stats", "--device", "cpu", "--no-progress"), "results.json")
    assert tree(trained) == before


def test_config_json_is_a_folder(trained):
    (trained / "config.json").unlink()
    (trained / "config.json").mkdir()
    one_line(gs("run", "--resume", trained), "not a run folder")


def test_checkpoints_is_a_file(trained):
    shutil.rmtree(trained / "checkpoints")
    (trained / "checkpoints").write_text("x")
    one_line(gs("run", "--resume", trained, "--max-steps", "6"), "checkpoints")
