"""File-system trouble: --out that is a file or not empty, names too long, no permission, a full disk."""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys

import pytest

from gansuite.engine import checkpoint as ckpt

from .helpers import REPO, TINY, Result, env, gs, one_line, tree


def test_out_is_a_file(cwd):
    (cwd / "r").write_text("my notes")
    one_line(gs("run", *TINY, "--max-steps", "1", "--out", cwd / "r"), "is a file")
    assert (cwd / "r").read_text() == "my notes"


def test_out_holds_foreign_checkpoints_that_stay(cwd):
    foreign = cwd / "r" / "checkpoints"
    foreign.mkdir(parents=True)
    for step in (1, 2, 3):
        (foreign / f"step-{step:09d}.pt").write_bytes(b"someone else's")
    before = tree(cwd / "r")
    one_line(gs("run", *TINY, "--max-steps", "4", "--checkpoint-every", "1", "--out", cwd / "r"), "not empty")
    assert tree(cwd / "r") == before


def test_out_dot_in_a_busy_folder(cwd):
    (cwd / "notes.txt").write_text("x")
    one_line(gs("run", *TINY, "--max-steps", "1", "--out", "."), "not empty")
    assert sorted(p.name for p in cwd.iterdir()) == ["notes.txt"]


def test_out_empty_folder_is_fine(cwd):
    (cwd / "r").mkdir()
    res = gs("run", *TINY, "--max-steps", "1", "--out", cwd / "r")
    assert res.code == 0, res.err


def test_name_too_long(cwd):
    one_line(gs("run", *TINY, "--max-steps", "1", "--out", cwd / ("x" * 300)), "too long")


def test_parent_is_a_file(cwd):
    (cwd / "f").write_text("x")
    one_line(gs("run", *TINY, "--max-steps", "1", "--out", cwd / "f" / "r"))


@pytest.mark.parametrize(("code", "fragment"), [(errno.EACCES, "Permission denied"), (errno.EROFS, "read-only"),
                                                 (errno.ENOSPC, "No space left")])
def test_cannot_create_the_run_folder(cwd, monkeypatch, code, fragment):
    real = os.mkdir

    def refuse(path, *args, **kwargs):
        if str(path).startswith(str(cwd / "r")):
            raise OSError(code, os.strerror(code), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", refuse)
    line = one_line(gs("run", *TINY, "--max-steps", "1", "--out", cwd / "r"), str(cwd / "r"))
    assert fragment in line or os.strerror(code) in line


def test_results_cannot_be_written_by_eval(trained, monkeypatch):
    from gansuite.engine import runfolder

    def refuse(path, obj):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(runfolder, "atomic_write_json", refuse)
    before = tree(trained)
    one_line(gs("eval", trained, "--eval", "fake-pixel-stats", "--device", "cpu", "--no-progress"),
             "Permission denied", "results.json")
    after = tree(trained)
    assert {k: v for k, v in after.items() if not k.startswith("samples")} == \
        {k: v for k, v in before.items() if not k.startswith("samples")}


def _limited(limit: int):
    def set_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


@pytest.mark.slow  # a real process under a file-size limit
def test_full_disk_while_checkpointing_keeps_the_last_checkpoint(trained):
    """A real write failure (a file-size limit: the kernel refuses the write as a full disk would)."""
    proc = subprocess.run([sys.executable, "-m", "gansuite", "run", "--resume", str(trained), "--max-steps", "6"],
                          capture_output=True, text=True, env=env(), cwd=REPO, timeout=300,
                          preexec_fn=_limited(200_000))
    res = Result(proc.returncode, proc.stdout, proc.stderr)
    line = one_line(res, "Cannot write checkpoint", "step-000000004.pt is kept", "--resume")
    assert "step-000000006.pt" in line
    steps = [s for s, _ in ckpt.list_checkpoints(trained / "checkpoints")]
    assert steps == [2, 4]
    ckpt.load_checkpoint(trained / "checkpoints" / "step-000000004.pt")
    assert not list((trained / "checkpoints").glob(".*.tmp")), "a temp file was left behind"
    res = gs("run", "--resume", trained, "--max-steps", "6")  # space again: the run continues
    assert res.code == 0, res.err


def test_files_follow_the_umask(cwd):
    from gansuite.contract import files

    old = os.umask(0o027)
    files._MODE = None
    try:
        res = gs("run", *TINY, "--max-steps", "1", "--out", cwd / "r")
    finally:
        os.umask(old)
        files._MODE = None
    assert res.code == 0, res.err
    for path in [cwd / "r" / "config.json", *(cwd / "r" / "checkpoints").iterdir()]:
        assert path.stat().st_mode & 0o777 == 0o640, path


def test_results_of_a_missing_folder(cwd):
    one_line(gs("results", cwd / "nowhere"), "does not exist")


def test_eval_of_a_file(cwd):
    (cwd / "f").write_text("x")
    one_line(gs("eval", cwd / "f", "--eval", "fake-pixel-stats"), "not a run folder")


def test_data_root_is_a_file(cwd):
    (cwd / "root").write_text("x")
    one_line(gs("data", "info", "cifar10", "--data-root", cwd / "root"))
