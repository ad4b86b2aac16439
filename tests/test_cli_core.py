"""The CLI as a user meets it: the error boundary in-process (click's CliRunner), start-up
imports in a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gansuite.contract.errors import UnknownNameError

HEAVY = ("torch", "torchvision", "sklearn", "pandas")
CHEAP = [["--help"], ["list"], ["list", "models", "--json"], ["show", "dcgan"]]


def test_cheap_commands_import_no_heavy_module():
    """One fresh interpreter runs each cheap command and reports what it had imported after it."""
    code = (
        "import sys\nfrom gansuite.cli import main\n"
        f"for args in {CHEAP!r}:\n"
        "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
        f"    print('HEAVY', args, [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = [line for line in res.stderr.splitlines() if line.startswith("HEAVY")]
    assert len(lines) == len(CHEAP), res.stderr
    assert all(line.endswith("[]") for line in lines), res.stderr


def test_list_models_json(cli):
    res = cli("list", "models", "--json")
    assert res.returncode == 0, res.stderr
    names = [m["name"] for m in json.loads(res.stdout)]
    assert {"dcgan", "dcgan-pytorch-examples"} <= set(names)


def test_list_pattern(cli):
    res = cli("list", "models", "dcgan-py*", "--json")
    assert [m["name"] for m in json.loads(res.stdout)] == ["dcgan-pytorch-examples"]


def test_unknown_model_one_line_exit_2(cli):
    res = cli("run", "--model", "dcgn")
    assert res.returncode == 2
    assert res.stderr.strip() == "Error: Unknown model 'dcgn'. Did you mean: dcgan? Run 'gansuite list models'."


@pytest.mark.parametrize("switch", [("--traceback",), ()])
def test_traceback_on_request(cli, switch):
    """With --traceback or GANSUITE_DEBUG=1 the error leaves the boundary (Python prints it)."""
    env = {} if switch else {"GANSUITE_DEBUG": "1"}
    with pytest.raises(UnknownNameError, match="dcgn"):
        cli(*switch, "run", "--model", "dcgn", env=env)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--model", "dcgan", "--dataset", "fake", "-o", "ngf"], "Malformed option 'ngf'"),
        (["run", "--model", "dcgan", "--dataset", "fake", "-o", "ngf=wide", "-o", "z_dim=0.5"],
         "Bad value 'wide' for dcgan.ngf: expected int"),
        (["run", "--model", "dcgan", "--dataset", "fakke"], "Unknown dataset 'fakke'. Did you mean: fake?"),
        (["run", "--model", "dcgan"], "Missing --dataset"),
        (["run", "--model", "dcgan", "--dataset", "fake", "--max-steps", "0"], "--max-steps must be a positive"),
        (["run", "--resume", "nowhere"], "is not a run folder"),
        (["run", "--resume", "nowhere", "--model", "dcgan"], "drop --model"),
        (["show", "dcgn"], "Did you mean: dcgan"),
        (["list", "modls"], "Did you mean: models?"),
        (["run", "--model", "dcgan", "--dataset", "fake", "--device", "tpu"], "Invalid value for '--device'"),
        (["lst"], "Did you mean: list?"),
    ],
)
def test_user_errors_are_one_clean_line(cli, args, expected, tmp_path):
    res = cli(*args, cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert expected in res.stderr
    assert all(line.startswith("Error: ") for line in res.stderr.splitlines()), res.stderr


def test_every_bad_option_gets_its_own_line(cli):
    res = cli("run", "--model", "dcgan", "--dataset", "fake", "-o", "ngf=wide", "-o", "lr=fast", "-o", "depth=3")
    lines = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 3, res.stderr


def test_show_json_lists_options_with_types_and_defaults(cli):
    info = json.loads(cli("show", "dcgan", "--json").stdout)
    assert info["plugin"] == "dcgan" and info["distribution"] == "gansuite"
    assert any(o["name"] == "ngf" and o["type"].startswith("int") for o in info["options"]), info["options"]


def test_version(cli):
    res = cli("--version")
    assert res.returncode == 0 and "gansuite, version" in res.stdout


def test_python_dash_m_runs_the_cli():
    res = subprocess.run([sys.executable, "-m", "gansuite", "--version"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and "gansuite, version" in res.stdout
