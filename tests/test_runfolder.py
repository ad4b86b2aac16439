from __future__ import annotations

import json
import os

import pytest

from gansuite.contract.errors import CheckpointError
from gansuite.engine.runfolder import RunFolder, atomic_write_json


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_json(path, {"v": 1})

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_write_json(path, {"v": Boom()})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temp file left behind


def test_metrics_and_results(tmp_path):
    run = RunFolder(tmp_path / "run").create()
    run.append_metrics([{"step": i, "loss_d": 1.0, "loss_g": 2.0, "images_per_s": 3.0} for i in range(1, 6)])
    with open(run.metrics_path, "a") as fh:
        fh.write('{"step": 6, "loss')  # a line torn by a kill
    assert [r["step"] for r in run.read_metrics()] == [1, 2, 3, 4, 5]
    run.truncate_metrics(3)
    assert [r["step"] for r in run.read_metrics()] == [1, 2, 3]
    run.add_results([{"eval": "e", "metric": "m", "value": 1.0}])
    run.add_results([{"eval": "e", "metric": "n", "value": 2.0}])
    assert [r["metric"] for r in run.read_results()] == ["m", "n"]
    assert run.checkpoints.is_dir() and run.samples.is_dir()
    assert not any(name.endswith(".tmp") for name in os.listdir(run.path))


def test_not_a_run_folder(tmp_path):
    with pytest.raises(CheckpointError, match="not a run folder"):
        RunFolder(tmp_path).read_config()
