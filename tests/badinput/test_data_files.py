"""Data files built to run code, or merely broken: nothing runs, one line names the file."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from .helpers import gs, one_line, write_cifar


class _Payload:
    """Unpickling this runs a shell command (what a crafted batch file does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant(path: Path, marker: Path, *, inside: bool) -> None:
    """Replace ``path`` with a payload: the whole file, or one value inside a real-looking batch."""
    if inside:
        batch = pickle.loads(path.read_bytes())
        batch["batch_label"] = _Payload(marker)
        path.write_bytes(pickle.dumps(batch, protocol=2))
    else:
        path.write_bytes(pickle.dumps(_Payload(marker), protocol=2))


def test_the_payload_does_run_under_plain_pickle(tmp_path):
    """The control: the planted file really runs its command when read the unsafe way."""
    folder = write_cifar(tmp_path / "data")
    marker = tmp_path / "pwned"
    plant(folder / "data_batch_1", marker, inside=True)
    pickle.loads((folder / "data_batch_1").read_bytes())
    assert marker.exists()


COMMANDS = {
    "data info": lambda root: ["data", "info", "cifar10", "--data-root", root],
    "dedup": lambda root: ["dedup", "--dataset", "cifar10", "--strategy", "exact", "--data-root", root,
                           "--out", root / "dedup.json"],
    "run": lambda root: ["run", "--model", "dcgan", "--dataset", "cifar10", "--data-root", root,
                         "--allow-unverified", "-o", "ngf=4", "-o", "ndf=4", "--batch-size", "8",
                         "--max-steps", "1", "--device", "cpu", "--no-progress", "--out", root / "run"],
}


@pytest.mark.parametrize("inside", [False, True], ids=["whole-file", "inside-batch"])
@pytest.mark.parametrize("victim", ["data_batch_1", "data_batch_5", "batches.meta"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_planted_payload_never_runs(tmp_path, cwd, command, victim, inside):
    root = tmp_path / "data"
    folder = write_cifar(root)
    marker = tmp_path / "pwned"
    plant(folder / victim, marker, inside=inside)
    line = one_line(gs(*COMMANDS[command](root)), str(folder / victim))
    assert not marker.exists(), "the data file ran a command"
    assert "crafted" in line or "not a readable" in line
    assert not (root / "run").exists()


def test_payload_in_test_batch_eval(trained, tmp_path):
    root = tmp_path / "data"
    folder = write_cifar(root)
    marker = tmp_path / "pwned"
    plant(folder / "test_batch", marker, inside=True)
    line = one_line(gs("eval", trained, "--eval", "cifar10-svm", "--data-root", root, "--allow-unverified",
                       "--device", "cpu", "--no-progress", "-o", "svm.val_size=2", "-o", "svm.random_control=false",
                       "-o", "svm.search_max_train=10", "-o", "svm.n_draws=1"), "test_batch")
    assert not marker.exists()
    assert "crafted" in line


BROKEN = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:100]),
    "empty": lambda p: p.write_bytes(b""),
    "not a pickle": lambda p: p.write_bytes(b"PK\x03\x04 not a pickle at all"),
    "a list": lambda p: p.write_bytes(pickle.dumps([1, 2, 3], protocol=2)),
    "no data key": lambda p: p.write_bytes(pickle.dumps({"labels": [0]}, protocol=2)),
    "labels mismatch": lambda p: p.write_bytes(pickle.dumps(
        {"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, protocol=2)),
    "wrong row size": lambda p: p.write_bytes(pickle.dumps(
        {"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, protocol=2)),
    "object array": lambda p: p.write_bytes(pickle.dumps(
        {"data": np.array([object()] * 2, dtype=object), "labels": [0, 1]}, protocol=2)),
    "a folder": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.mark.parametrize("how", list(BROKEN))
def test_broken_batch_one_line(tmp_path, cwd, how):
    root = tmp_path / "data"
    folder = write_cifar(root)
    BROKEN[how](folder / "data_batch_2")
    one_line(gs(*COMMANDS["run"](root)), "data_batch_2")
    assert not (root / "run").exists()


def test_meta_with_odd_label_names_is_tolerated(tmp_path, cwd):
    root = tmp_path / "data"
    folder = write_cifar(root)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": 7}, protocol=2))
    res = gs("data", "info", "cifar10", "--data-root", root, "--json")
    assert res.code == 0 and "Traceback" not in res.err, res.err


def test_feature_extractor_not_torchscript(trained, tmp_path):
    bogus = tmp_path / "extractor.pt"
    bogus.write_bytes(b"this is not a TorchScript archive")
    line = one_line(gs("eval", trained, "--eval", "digits-kid", "--device", "cpu", "--no-progress",
                       "-o", f"kid.weights={bogus}", "-o", "kid.input_size=32"), str(bogus))
    assert "TorchScript" in line
