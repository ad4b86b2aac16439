"""Study specs and plans: parsing, one-line errors naming the field, and what each cell needs next.

No training here: run folders are laid out by hand, following the run-folder contract.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gansuite._host.manager import get_catalog
from gansuite.cli import main
from gansuite.engine.runfolder import RunFolder
from gansuite.study.driver import StudyRequest, prepare_study
from gansuite.study.folder import StudyFolder
from gansuite.study.plan import next_action, plan_cells
from gansuite.study.spec import SpecError, load_spec, parse_spec

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("example_plugin")  # the specs here name the example's tiny-gan
EXAMPLE = REPO / "examples" / "studies" / "digits.toml"

GOOD = """
seeds = [0, 1]
datasets = ["digits"]
evals = ["digits-svm"]
[budget]
max_steps = 4
[run]
device = "cpu"
options = ["svm.max_iter=10"]
[[models]]
name = "tiny-gan"
[[models]]
name = "dcgan"
options = { ngf = 8, ndf = 8 }
"""


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def study_error(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``gansuite study`` on ``text``: it must exit 2 with one line and create nothing."""
    spec = write(tmp_path, text)
    out = tmp_path / "study"
    with pytest.raises(SystemExit) as info:
        main(["study", str(spec), "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert not out.exists()
    return err[0]


def test_example_spec_parses_into_two_models_and_three_seeds() -> None:
    spec = load_spec(EXAMPLE)
    assert [m.name for m in spec.models] == ["dcgan", "dcgan-pytorch-examples"]
    assert spec.seeds == (0, 1, 2)
    assert spec.models[0].options == ("dcgan.ngf=32", "dcgan.ndf=32")
    assert spec.budget.max_steps and spec.evals == ("digits-svm",)


def test_seed_count_labels_and_list_options(tmp_path: Path) -> None:
    spec = parse_spec({"seeds": 3, "datasets": ["digits"], "budget": {"epochs": 1},
                       "models": [{"name": "dcgan", "label": "narrow", "options": {"c": [1, 2], "x.y": True}},
                                  {"name": "dcgan"}]})
    assert spec.seeds == (0, 1, 2)
    assert spec.budget.epochs == 1.0
    assert spec.models[0].label == "narrow"
    assert spec.models[0].options == ("dcgan.c=1,2", "x.y=true")


@pytest.mark.parametrize("text, field", [
    ("seeds = [0\n", "not valid TOML"),
    ("datasets = ['digits']\n[budget]\nmax_steps = 4\n[[models]]\nname = 'dcgan'\n", "seeds"),
    ("seeds = [0]\ndatasets = ['digits']\n[[models]]\nname = 'dcgan'\n", "budget"),
    ("seeds = [0]\ndatasets = ['digits']\n[budget]\nmax_steps = 4\n", "models"),
    ("seeds = [0]\n[budget]\nmax_steps = 4\n[[models]]\nname = 'dcgan'\n", "datasets"),
    ("seed = [0]\ndatasets = ['digits']\n[budget]\nmax_steps = 4\n[[models]]\nname = 'dcgan'\n", "seed: unknown key. Did you mean 'seeds'?"),
    ("seeds = [0]\ndatasets = ['digits']\n[budget]\nmax_steps = -1\n[[models]]\nname = 'dcgan'\n", "budget.max_steps"),
    ("seeds = [0]\ndatasets = ['digits']\n[budget]\nmax_steps = 4\n[[models]]\nlabel = 'x'\n", "models[0].name: missing"),
    ("seeds = [0]\ndatasets = ['digits']\n[budget]\nmax_steps = 4\n[[models]]\nname = 'dcgan'\n[[models]]\nname = 'dcgan'\n",
     "models[1].label"),
    ("seeds = [0]\ndatasets = ['digits']\n[budget]\nmax_steps = 4\n[[models]]\nname = 'dcgan'\n[executor]\nkind = 'pbs'\n",
     "executor.kind"),
])
def test_malformed_spec_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                        field: str) -> None:
    line = study_error(tmp_path, text, capsys)
    assert field in line
    assert line.startswith("Error: ")


@pytest.mark.parametrize("old, new, field", [
    ('name = "dcgan"', 'name = "dcgen"', "models[1].name: Unknown model 'dcgen'"),
    ('datasets = ["digits"]', 'datasets = ["digitz"]', "datasets[0]: Unknown dataset 'digitz'"),
    ('evals = ["digits-svm"]', 'evals = ["digits-svn"]', "evals[0]: Unknown eval 'digits-svn'"),
    ("ngf = 8", "ngff = 8", "models[1].options:"),
    ('"svm.max_iter=10"', '"svm.max_itr=10"', "run: Unknown option 'max_itr'"),
    ('device = "cpu"', 'device = "cpu"\nprecision = "fp64"', "run: --precision must be auto, fp32 or bf16"),
])
def test_unknown_names_and_options_fail_before_anything_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, field: str) -> None:
    assert old in GOOD
    line = study_error(tmp_path, GOOD.replace(old, new), capsys)
    assert field in line


def test_dry_run_lists_every_cell_and_its_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path, GOOD)
    main(["study", str(spec), "--out", str(tmp_path / "st"), "--dry-run"])
    out = capsys.readouterr().out
    assert "4 cells (4 to run)" in out
    assert "dcgan-digits-seed1: run: gansuite run --model dcgan --dataset digits --eval digits-svm --seed 1" in out
    assert "-o dcgan.ngf=8" in out and "-o svm.max_iter=10" in out and "--precision" not in out
    assert not (tmp_path / "st").exists()


def fake_run(run_dir: Path, *, model: str, seed: int, options: list[str], max_steps: int = 4,
             checkpoint: bool = False, evals_done: tuple[str, ...] = ()) -> None:
    folder = RunFolder(run_dir).create()
    folder.write_config({"model": model, "dataset": "digits", "seed": seed, "options": options,
                         "max_steps": max_steps, "epochs": None, "time_budget": None, "evals": ["digits-svm"],
                         "data_root": str(run_dir), "batch_size": 16, "image_size": 32})
    if checkpoint:
        (folder.checkpoints / "step-000000002.pt").write_bytes(b"")
    if evals_done:
        folder.add_results([{"eval": e, "metric": "accuracy", "value": 0.5} for e in evals_done])


def test_next_action_reads_each_run_folder(tmp_path: Path) -> None:
    spec_path = write(tmp_path, GOOD.replace('evals = ["digits-svm"]', 'evals = ["digits-svm", "digits-kid"]'))
    study = StudyFolder(tmp_path / "st")
    opts = ["svm.max_iter=10"]
    fake_run(study.run_dir("tiny-gan-digits-seed0"), model="tiny-gan", seed=0, options=opts,
             checkpoint=True, evals_done=("digits-svm", "digits-kid"))
    fake_run(study.run_dir("tiny-gan-digits-seed1"), model="tiny-gan", seed=1, options=opts, checkpoint=True)
    dopts = [*opts, "dcgan.ngf=8", "dcgan.ndf=8"]
    fake_run(study.run_dir("dcgan-digits-seed0"), model="dcgan", seed=0, options=dopts)
    fake_run(study.run_dir("dcgan-digits-seed1"), model="dcgan", seed=1, options=dopts, checkpoint=True,
             evals_done=("digits-svm",))
    plan = prepare_study(StudyRequest(spec=spec_path, out=study.path))
    kinds = {cid: a.kind for cid, a in plan.actions.items()}
    assert kinds == {"tiny-gan-digits-seed0": "done", "tiny-gan-digits-seed1": "resume",
                     "dcgan-digits-seed0": "restart", "dcgan-digits-seed1": "evaluate"}
    resume = plan.actions["tiny-gan-digits-seed1"].argv
    assert resume[:3] == ("run", "--resume", str(study.run_dir("tiny-gan-digits-seed1")))
    assert "--max-steps" in resume
    evaluate = plan.actions["dcgan-digits-seed1"]
    assert evaluate.argv[:2] == ("eval", str(study.run_dir("dcgan-digits-seed1")))
    assert evaluate.missing_evals == ("digits-kid",)
    assert "svm.max_iter=10" in evaluate.argv and "dcgan.ngf=8" not in evaluate.argv
    assert plan.actions["dcgan-digits-seed0"].argv[0] == "run"


def test_a_changed_spec_cannot_reuse_cells_made_otherwise(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    study = StudyFolder(tmp_path / "st")
    fake_run(study.run_dir("tiny-gan-digits-seed0"), model="tiny-gan", seed=0, options=["svm.max_iter=10"],
             max_steps=99, checkpoint=True)
    with pytest.raises(SpecError, match=r"budget\.max_steps: cell tiny-gan-digits-seed0 was made with max_steps=99"):
        plan_cells(spec, study, get_catalog())


def test_no_evals_finished_means_a_finished_attempt(tmp_path: Path) -> None:
    text = GOOD.replace('evals = ["digits-svm"]', "evals = []").replace('options = ["svm.max_iter=10"]', "")
    spec = load_spec(write(tmp_path, text))
    study = StudyFolder(tmp_path / "st")
    fake_run(study.run_dir("tiny-gan-digits-seed0"), model="tiny-gan", seed=0, options=[], checkpoint=True)
    cell = plan_cells(spec, study, get_catalog())[0]
    assert next_action(cell, study).kind == "resume"
    study.add_attempt(cell.id, {"action": "run", "status": "finished", "rc": 0, "seconds": 1.5})
    assert next_action(cell, study).kind == "done"
    record = json.loads(study.record_path(cell.id).read_text())
    assert record["wall_s"] == 1.5


def test_planning_a_study_imports_no_heavy_module(tmp_path: Path) -> None:
    code = ("import sys\nfrom gansuite.cli import main\n"
            f"main(['study', {str(EXAMPLE)!r}, '--dry-run', '--out', {str(tmp_path / 'st')!r}])\n"
            "print('HEAVY', [m for m in ('torch', 'pandas', 'scipy', 'matplotlib', 'submitit') if m in sys.modules])\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in res.stdout, res.stdout + res.stderr
    assert "6 cells (6 to run)" in res.stdout
