"""Studies given a bad spec, a bad place or an executor this machine lacks, or started twice on
one folder: one line, and nothing written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gansuite.engine.lock import RunLock

from .helpers import gs, one_line, tree

SPEC = """
seeds = [0]
datasets = ["fake"]
[budget]
max_steps = 1
[run]
device = "cpu"
batch_size = 8
[[models]]
name = "tiny-gan"
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    return path


def test_spec_not_utf8(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b'seeds = [0]\ndatasets = ["fake\xff\xfe"]\n')
    one_line(gs("study", path, "--out", tmp_path / "s"), str(path), "UTF-8")
    assert not (tmp_path / "s").exists()


@pytest.mark.skipif(shutil.which("srun") is not None, reason="this machine has Slurm")
@pytest.mark.parametrize("where", ["flag", "spec"])
def test_slurm_executor_without_slurm_writes_nothing(tmp_path, spec, where):
    args = ["--executor", "slurm"] if where == "flag" else []
    if where == "spec":
        spec.write_text(SPEC + '\n[executor]\nkind = "slurm"\n')
    one_line(gs("study", spec, "--out", tmp_path / "s", *args), "srun", "--executor local")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("inside", ["", "samples", "checkpoints/sub"])
def test_out_is_or_lies_inside_a_run(trained, spec, inside):
    before = tree(trained)
    out = trained / inside if inside else trained
    one_line(gs("study", spec, "--out", out), str(trained), "inside the run folder")
    assert tree(trained) == before
    assert out.exists() == (inside in ("", "samples"))


def test_out_is_an_existing_non_study_folder(tmp_path, spec):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    one_line(gs("study", spec, "--out", out), str(out), "not a study folder")
    assert tree(out) == {"notes.txt": b"mine"} and sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_second_study_on_a_folder_is_refused_naming_the_holder(tmp_path, spec):
    out = tmp_path / "s"
    out.mkdir()
    holder = RunLock(out, "gansuite study other.toml", what="study folder").acquire()
    try:
        before = tree(out)
        line = one_line(gs("study", spec, "--out", out), str(out), f"pid {os.getpid()}",
                        "gansuite study other.toml")
        assert "one writer per study folder" in line
        assert tree(out) == before and sorted(p.name for p in out.iterdir()) == [".lock"]
    finally:
        holder.release()
