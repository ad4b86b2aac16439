"""The remaining inputs: --out inside a run, labels that are not class indices, a dataset
without info(), an option so large the network cannot be built."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from .helpers import TINY, gs, one_line, tree, write_cifar

RUN_CIFAR = ("--dataset", "cifar10", "--allow-unverified", "--batch-size", "8", "--max-steps", "1",
             "--device", "cpu", "--no-progress")


@pytest.mark.parametrize("inside", ["checkpoints", "samples", "checkpoints/new"])
def test_out_inside_a_run_folder(trained, inside):
    before = tree(trained)
    one_line(gs("run", *TINY, "--max-steps", "1", "--out", trained / inside), str(trained / inside),
             f"inside the run folder {trained}")
    assert tree(trained) == before and not (trained / "checkpoints" / "new").exists()


def _relabel(folder: Path, label: int) -> None:
    for name in ("data_batch_1", "test_batch"):
        batch = pickle.loads((folder / name).read_bytes())
        batch["labels"][0] = label
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


@pytest.mark.parametrize("label", [-1, 1_000_000])
def test_labels_that_are_not_class_indices(tmp_path, label):
    root = tmp_path / "data"
    _relabel(write_cifar(root), label)
    before = tree(root)
    fragment = "negative labels" if label < 0 else f"label {label}, but it names 10 classes"
    for args in (["data", "info", "cifar10", "--data-root", root],
                 ["data", "info", "cifar10", "--data-root", root, "--json"],
                 ["run", "--model", "dcgan", "-o", "ngf=4", "-o", "ndf=4", *RUN_CIFAR, "--data-root", root,
                  "--out", tmp_path / "r"],
                 ["run", "--model", "sngan-projection", *RUN_CIFAR, "--data-root", root, "--out", tmp_path / "c"]):
        res = gs(*args)
        line = one_line(res, "Dataset 'cifar10' split", fragment)
        assert "num_classes" not in line and res.out == ""  # no hint that cannot fix it, no 20 MB report
    assert tree(root) == before and not (tmp_path / "r").exists() and not (tmp_path / "c").exists()


def test_data_info_counts_only_the_labels_present(tmp_path):
    root = tmp_path / "data"
    write_cifar(root)
    res = gs("data", "info", "cifar10", "--data-root", root, "--json")
    assert res.code == 0, res.err
    classes = json.loads(res.out)["splits"]["test"]["classes"]
    assert len(classes) == 10 and sum(classes.values()) == 8


def test_data_info_on_a_dataset_without_info(badplug):
    res = gs("data", "info", "no-info", "--json")
    assert res.code == 0 and "Traceback" not in res.err, res.err
    report = json.loads(res.out)
    assert report["dataset"] == "no-info" and report["splits"]["train"]["n"] == 16


@pytest.mark.parametrize("value", [str(2**63 - 1), str(2**62), "9" * 20])
def test_huge_width_is_one_line_without_stack_frames(cwd, value):
    res = gs("run", "--model", "dcgan", "--dataset", "fake", "-o", f"dcgan.ngf={value}", "-o", "n=64",
             "--max-steps", "1", "--device", "cpu", "--no-progress", "--out", cwd / "r")
    line = one_line(res, "Model 'dcgan'", "failed to build")
    assert "frame #" not in res.err and "c10::" not in res.err, line
    assert not (cwd / "r").exists()
