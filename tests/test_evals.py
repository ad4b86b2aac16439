"""The evaluation host: eval presets after training, on an existing run, provenance, data policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gansuite_probes import testing

from gansuite._host.manager import build_catalog, get_catalog, reset_catalog
from gansuite.contract.errors import CheckpointError, DataError, IntegrityError, UnknownNameError
from gansuite.contract.protocols import ImageData
from gansuite.engine.build import build_model
from gansuite.engine.runfolder import RunFolder
from gansuite.evaluation.evaluate import (
    PROVENANCE_KEYS,
    EvalSession,
    _match_channels,
    evaluate_run,
)
from gansuite.report.texttable import result_rows_table
from gansuite.runs.evals import run_evals
from gansuite.runs.runner import RunRequest, execute, plan_run

FAST_SVM = ("svm.max_iter=15", "svm.search_iter=10", "svm.val_size=200", "svm.max_train=600", "svm.max_test=200",
            "svm.n_draws=5")


@pytest.fixture
def catalog() -> Any:
    """The installed plugins plus the tiny test model ``probe-test-gan``."""
    cat = build_catalog(extra_plugins={"probe-test": testing.hooks})
    reset_catalog(cat)
    return cat


def evaluate(tmp_path: Path, evals: tuple[str, ...], *, options: tuple[str, ...] = (), dataset: str | None = None,
             data_root: Path | None = None, allow_unverified: bool = False) -> tuple[list[dict[str, Any]], RunFolder]:
    """Plan a run of the tiny model, skip training, and run its evals on a fresh model."""
    req = RunRequest(model="probe-test-gan", dataset=dataset, evals=evals, out=tmp_path / "run", seed=2,
                     options=options, image_size=16, data_root=data_root or tmp_path,
                     allow_unverified=allow_unverified, max_steps=1, progress=False)
    plan = plan_run(req, get_catalog())
    folder = RunFolder(plan.out).create()
    torch.manual_seed(123)
    model = build_model(plan.model, plan.model_config, image_size=16, channels=3)
    return run_evals(plan, folder, model, plan.config_json(image_size=16, batch_size=32)), folder


def test_rows_carry_provenance_and_land_in_results_json(catalog: Any, tmp_path: Path) -> None:
    rows, folder = evaluate(tmp_path, ("digits-svm", "digits-latent-walk"),
                            options=(*FAST_SVM, "n_walks=2", "n_points=3", "steps=2"))
    assert folder.read_results() == json.loads(json.dumps(rows, default=str))
    assert {r["eval"] for r in rows} == {"digits-svm", "digits-latent-walk"}
    for row in rows:
        assert set(PROVENANCE_KEYS) <= set(row)
        assert row["model"] == "probe-test-gan" and row["dataset"] == "digits" and row["seed"] == 2
        assert row["device"] == "cpu" and row["versions"]["torch"] == torch.__version__
        assert "probes" in row["plugins"] and row["run"] == str(folder.path)
        assert row["data_verified"] is None  # the digits set has no official checksums
    svm = [r for r in rows if r["eval"] == "digits-svm"]
    assert [r["variant"] for r in svm] == ["trained", "random", "trained-random"]
    assert svm[0]["probe_config"]["val_size"] == 200 and svm[0]["probe"] == "svm"
    assert (folder.samples / "digits-latent-walk" / "latent-walk-trained-linear.png").is_file()


def test_eval_dataset_may_differ_from_the_training_dataset(catalog: Any, tmp_path: Path) -> None:
    rows, _ = evaluate(tmp_path, ("digits-svm",), options=(*FAST_SVM, "svm.random_control=false"), dataset="fake")
    assert len(rows) == 1
    assert rows[0]["dataset"] == "digits" and rows[0]["train_dataset"] == "fake"
    assert rows[0]["metric"] == "error" and rows[0]["value"] < 0.7  # a random D: far below chance error (0.9)


def _write_svhn(folder: Path, split: str, n: int, seed: int) -> None:
    """A tiny SVHN split in the real .mat layout; class k has a bright band at row 3k."""
    import scipy.io

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    x = rng.integers(0, 60, (32, 32, 3, n), dtype=np.uint8)
    for i, k in enumerate(labels):
        x[3 * k : 3 * k + 3, :, :, i] = 250
    y = np.where(labels == 0, 10, labels).astype(np.uint8).reshape(n, 1)  # SVHN stores 0 as 10
    scipy.io.savemat(str(folder / f"{split}_32x32.mat"), {"X": x, "y": y})


def test_svhn_protocol_on_a_mat_fixture_records_unverified_data(catalog: Any, tmp_path: Path) -> None:
    _write_svhn(tmp_path / "svhn", "train", 120, 0)
    _write_svhn(tmp_path / "svhn", "test", 60, 1)
    options = ("svm.val_size=40", "svm.labels_per_class=3", "svm.n_draws=3", "svm.max_iter=15")
    with pytest.raises(IntegrityError, match="allow-unverified"):
        evaluate(tmp_path, ("svhn-svm",), options=options)
    rows, _ = evaluate(tmp_path / "ok", ("svhn-svm",), options=options, data_root=tmp_path, allow_unverified=True)
    assert [r["variant"] for r in rows] == ["trained", "random", "trained-random"]
    for row in rows[:2]:
        assert row["metric"] == "error" and row["protocol"] == "few-label" and row["n_draws"] == 3
        assert row["n_train"] == 30 and row["n_val"] == 40 and row["n_test"] == 60
        assert row["c_chosen"] and set(row["c_chosen"]) <= set(row["probe_config"]["c_grid"])
        assert row["data_verified"] is False
        assert set(row["unverified_files"]) == {"train_32x32.mat", "test_32x32.mat"}
        assert row["value"] < 0.5  # the bands make the classes easy: far below chance error (0.9)


def test_random_model_is_seeded_and_leaves_global_rng_alone(catalog: Any, tmp_path: Path) -> None:
    spec = catalog.registry("models").get("probe-test-gan")
    model = testing.build_tiny(testing.TinyConfig(), image_size=16, channels=3)
    session = EvalSession(catalog=catalog, folder=RunFolder(tmp_path), model=model, model_spec=spec,
                          model_config=testing.TinyConfig(), config={}, data_root=tmp_path,
                          allow_unverified=False, seed=0)
    torch.manual_seed(7)
    before = torch.get_rng_state()
    a, b, c = session.make_random_model(3), session.make_random_model(3), session.make_random_model(4)
    assert torch.equal(torch.get_rng_state(), before)
    wa, wb, wc = (m.discriminator.conv1.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert not torch.equal(wa, model.discriminator.conv1.weight)
    with pytest.raises(DataError, match="no split 'nope'"):
        session.load_split("digits", "nope")


def test_channels_are_matched_to_the_model() -> None:
    gray = ImageData(torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8), torch.tensor([0, 1]))
    rgb = _match_channels(gray, 3, "x")
    assert rgb.images.shape == (2, 3, 4, 4) and torch.equal(rgb.images[:, 2], gray.images[:, 0])
    back = _match_channels(rgb, 1, "x")
    assert torch.equal(back.images, gray.images) and back.meta["channels_converted"] == "3->1"
    with pytest.raises(DataError, match="4-channel"):
        _match_channels(ImageData(torch.zeros(1, 4, 2, 2, dtype=torch.uint8)), 3, "x")


def test_results_table_shows_filled_columns_only() -> None:
    rows = [{"eval": "e", "probe": "svm", "metric": "accuracy", "variant": "trained", "value": 0.5,
             "feature_dim": 7168, "C": 0.001, "time_svm_s": 12.34},
            {"eval": "e", "probe": "svm", "metric": "accuracy", "variant": "random", "value": 0.25,
             "feature_dim": 7168, "C": 0.01}]
    lines = result_rows_table(rows, build_catalog()).splitlines()
    assert lines[0].split() == ["eval", "metric", "variant", "value", "features", "C", "svm_s"]
    assert lines[2].split() == ["e", "accuracy", "trained", "0.5000", "7168", "0.001", "12.3"]
    assert lines[3].split() == ["e", "accuracy", "random", "0.2500", "7168", "0.01"]


def test_results_table_says_when_a_difference_is_not_distinguishable() -> None:
    from gansuite_probes.resampling import paired_gain

    control = torch.zeros(359)
    model = control.clone()
    model[0] = 1.0  # one test image of 359
    gain = paired_gain(model, control)
    rows = [{"eval": "e", "probe": "svm", "metric": "gain_over_random", "variant": "trained-random", **gain},
            {"eval": "e", "probe": "svm", "metric": "error", "variant": "trained", "value": 0.1, "ci95": 0.01}]
    lines = result_rows_table(rows, build_catalog()).splitlines()
    assert "note" in lines[0].split()
    assert "not distinguishable from 0" in lines[2] and "distinguishable" not in lines[3]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-step dcgan run on digits (narrow widths), with a checkpoint."""
    reset_catalog()
    out = tmp_path_factory.mktemp("dcgan") / "run"
    plan = plan_run(RunRequest(model="dcgan", dataset="digits", out=out, max_steps=2, batch_size=16,
                               options=("ndf=8", "ngf=8"), progress=False))
    execute(plan)
    return out


def test_evaluate_run_uses_the_checkpoint_and_appends_results(trained_run: Path) -> None:
    before = RunFolder(trained_run).read_results()
    rows = evaluate_run(trained_run, ["digits-svm"], device="cpu", options=FAST_SVM, progress=False)
    assert [r["variant"] for r in rows] == ["trained", "random", "trained-random"]
    assert rows[0]["model"] == "dcgan" and rows[0]["step"] == 2
    assert all(r["step"] == 2 and r["train_seconds"] > 0 for r in rows)  # steps and training time in every row
    assert rows[0]["feature_dim"] == (8 + 16 + 32) * 16  # dcgan at 32x32: three conv layers
    assert RunFolder(trained_run).read_results()[len(before):] == json.loads(json.dumps(rows, default=str))


def test_eval_command_prints_a_table(trained_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gansuite.cli import main

    main(["eval", str(trained_run), "--eval", "digits-svm", "--no-progress", *sum((["-o", o] for o in FAST_SVM),
                                                                                 [])])
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("eval "))
    assert header.split()[:7] == ["eval", "metric", "variant", "value", "+-", "note", "features"]
    assert "fit stopped (iteration cap)" in out  # max_iter=15 stops the fits short: the table says so
    lines = [line.split()[:3] for line in out.splitlines()]
    assert ["digits-svm", "error", "trained"] in lines and ["digits-svm", "error", "random"] in lines
    assert ["digits-svm", "gain_over_random", "trained-random"] in lines


def test_eval_errors_are_one_line(tmp_path: Path, cli: Any) -> None:
    res = cli("eval", str(tmp_path), "--eval", "digits-svm")
    assert res.returncode == 2 and "not a run folder" in res.stderr and "Traceback" not in res.stderr
    with pytest.raises(CheckpointError):
        evaluate_run(tmp_path, ["digits-svm"])


def test_unknown_eval_is_refused(trained_run: Path) -> None:
    with pytest.raises(UnknownNameError, match="digits-svm"):
        evaluate_run(trained_run, ["digits-svn"])
