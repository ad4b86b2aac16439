"""The CLI as a user meets it: real subprocesses, real entry points."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "sklearn", "pandas")


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "models", "--json"], ["show", "tiny-gan"]])
def test_cheap_commands_import_no_heavy_module(args):
    code = (
        "import sys\nfrom gansuite.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in res.stderr, res.stderr


def test_list_models_json(cli):
    res = cli("list", "models", "--json")
    assert res.returncode == 0, res.stderr
    names = [m["name"] for m in json.loads(res.stdout)]
    assert "tiny-gan" in names
    assert "dcgan" in names


def test_list_pattern(cli):
    res = cli("list", "models", "tiny*", "--json")
    assert [m["name"] for m in json.loads(res.stdout)] == ["tiny-gan"]


def test_unknown_model_one_line_exit_2(cli):
    res = cli("run", "--model", "dcgn")
    assert res.returncode == 2
    assert res.stderr.strip() == "Error: Unknown model 'dcgn'. Did you mean: dcgan? Run 'gansuite list models'."
    assert "Traceback" not in res.stderr


def test_traceback_on_request(cli):
    res = cli("--traceback", "run", "--model", "dcgn")
    assert res.returncode != 0 and "Traceback" in res.stderr
    res = cli("run", "--model", "dcgn", env={"GANSUITE_DEBUG": "1"})
    assert "Traceback" in res.stderr and "UnknownNameError" in res.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--model", "tiny-gan", "--dataset", "fake", "-o", "width"], "Malformed option 'width'"),
        (["run", "--model", "tiny-gan", "--dataset", "fake", "-o", "width=wide", "-o", "z_dim=0.5"],
         "Bad value 'wide' for tiny-gan.width: expected an integer."),
        (["run", "--model", "tiny-gan", "--dataset", "fakke"], "Unknown dataset 'fakke'. Did you mean: fake?"),
        (["run", "--model", "tiny-gan"], "Missing --dataset"),
        (["run", "--model", "tiny-gan", "--dataset", "fake", "--max-steps", "0"], "--max-steps must be a positive"),
        (["run", "--resume", "nowhere"], "is not a run folder"),
        (["run", "--resume", "nowhere", "--model", "tiny-gan"], "drop --model"),
        (["show", "tiny-gn"], "Did you mean: tiny-gan?"),
        (["list", "modls"], "Did you mean: models?"),
        (["run", "--model", "tiny-gan", "--dataset", "fake", "--device", "tpu"], "Invalid value for '--device'"),
        (["lst"], "Did you mean: list?"),
    ],
)
def test_user_errors_are_one_clean_line(cli, args, expected, tmp_path):
    res = cli(*args, cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert expected in res.stderr
    assert "Traceback" not in res.stderr


def test_every_bad_option_gets_its_own_line(cli):
    res = cli("run", "--model", "tiny-gan", "--dataset", "fake", "-o", "width=wide", "-o", "z_dim=0.5", "-o", "depth=3")
    lines = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 3, res.stderr


def test_show_json_lists_options_with_types_and_defaults(cli):
    info = json.loads(cli("show", "tiny-gan", "--json").stdout)
    assert info["plugin"] == "example" and info["distribution"] == "gansuite-example"
    assert {"name": "width", "type": "int", "default": 16, "help": "channels of the first conv"} in info["options"]


def test_python_dash_m_and_version(cli):
    res = cli("--version")
    assert res.returncode == 0 and "gansuite, version" in res.stdout
