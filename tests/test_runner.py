"""Planning a run: eval-implied datasets, default budgets, conflicts (no training)."""

from __future__ import annotations

from types import ModuleType

import pytest
from gansuite_probes import testing

from gansuite._host.manager import build_catalog
from gansuite.contract.errors import OptionError
from gansuite.contract.hookspecs import hookimpl
from gansuite.contract.specs import EvalSpec
from gansuite.runs.plan import DEFAULT_TIME_BUDGET, RunRequest, plan_run

MODEL = "probe-test-gan"  # the probes plugin's tiny test model, registered here


def _catalog_with(*evals: EvalSpec):
    module = ModuleType("extra_evals")
    module.register_evals = hookimpl(lambda register: [register(e) for e in evals])
    return build_catalog(extra_plugins={"extra": module, "probe-test": testing.hooks})


def _catalog():
    return _catalog_with()


def test_eval_implies_dataset_and_its_training_budget(tmp_path):
    catalog = _catalog_with(EvalSpec(name="long-eval", summary="", dataset="fake", probe="svm",
                                     train_budget=1234.0))
    plan = plan_run(RunRequest(model=MODEL, evals=("long-eval",), out=tmp_path / "r"), catalog)
    assert plan.dataset.name == "fake"
    assert plan.time_budget == 1234.0 and plan.max_steps is None


def test_eval_training_steps_win_over_seconds(tmp_path):
    catalog = _catalog_with(EvalSpec(name="steps-eval", summary="", dataset="fake", probe="svm", train_steps=77),
                            EvalSpec(name="timed-eval", summary="", dataset="fake", probe="svm",
                                     train_budget=1234.0))
    plan = plan_run(RunRequest(model=MODEL, evals=("steps-eval", "timed-eval"), out=tmp_path / "r"), catalog)
    assert plan.max_steps == 77 and plan.time_budget is None  # a count: the same model on a busy machine
    plan = plan_run(RunRequest(model=MODEL, evals=("steps-eval",), time_budget=5.0, out=tmp_path / "r2"), catalog)
    assert plan.max_steps is None and plan.time_budget == 5.0  # --time-budget still works


def test_cifar10_svm_trains_a_fixed_number_of_steps():
    spec = _catalog().registry("evals").get("cifar10-svm")
    assert spec.train_steps and spec.train_budget is None


def test_explicit_stop_wins_over_eval_budget(tmp_path):
    catalog = _catalog_with(EvalSpec(name="long-eval", summary="", dataset="fake", probe="svm",
                                     train_budget=1234.0))
    plan = plan_run(RunRequest(model=MODEL, evals=("long-eval",), max_steps=7, out=tmp_path / "r"), catalog)
    assert plan.time_budget is None and plan.max_steps == 7


def test_default_budget_without_evals(tmp_path):
    plan = plan_run(RunRequest(model=MODEL, dataset="fake", out=tmp_path / "r"), _catalog())
    assert plan.time_budget == DEFAULT_TIME_BUDGET


def test_evals_on_different_datasets_need_dataset(tmp_path):
    with pytest.raises(OptionError, match="use different datasets"):
        plan_run(RunRequest(model=MODEL, evals=("cifar10-fid", "digits-svm"), out=tmp_path / "r"),
                 _catalog())


def test_eval_params_are_defaults_user_options_win(tmp_path):
    plan = plan_run(RunRequest(model=MODEL, evals=("digits-svm",), options=("val_size=9",),
                               out=tmp_path / "r"), _catalog())
    assert plan.probe_configs["digits-svm"].val_size == 9
    plan = plan_run(RunRequest(model=MODEL, evals=("digits-svm",), out=tmp_path / "r"), _catalog())
    assert plan.probe_configs["digits-svm"].val_size == 300


def test_torchrun_needs_an_explicit_out(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(OptionError, match="Under torchrun pass --out"):
        plan_run(RunRequest(model=MODEL, dataset="fake"), _catalog())


def test_run_table_shows_probe_details(capsys):
    from gansuite.cli.run_cmd import print_results

    print_results([
        {"eval": "cifar10-svm", "probe": "svm", "metric": "accuracy", "value": 0.6645, "variant": "trained",
         "feature_dim": 14336, "C": 1e-4, "time_s": 219.75},
        {"eval": "cifar10-svm", "probe": "svm", "metric": "accuracy", "value": 0.6035, "variant": "random",
         "feature_dim": 14336, "C": 1e-3, "time_s": 196.6},
    ])
    header, _, trained, random_d, provenance = capsys.readouterr().out.splitlines()
    assert provenance.startswith("Provenance: ") and "commit not recorded" in provenance
    assert header.split() == ["eval", "metric", "variant", "value", "features", "C", "time_s"]
    assert trained.split() == ["cifar10-svm", "accuracy", "trained", "0.6645", "14336", "0.0001", "219.8"]
    assert random_d.split()[2] == "random"
