"""Bad values on the command line: refused before anything is written, one line, exit 2."""

from __future__ import annotations

import pytest

from .helpers import TINY, gs, one_line

BAD = [
    (["--epochs", "nan"], "--epochs"),
    (["--epochs", "inf"], "--epochs"),
    (["--epochs", "-1"], "--epochs must be a positive"),
    (["--time-budget", "nan"], "--time-budget"),
    (["--time-budget", "-inf"], "--time-budget"),
    (["--time-budget", "0"], "--time-budget must be a positive"),
    (["--max-loss", "nan"], "--max-loss"),
    (["--max-loss", "0"], "--max-loss must be positive"),
    (["--max-steps", "-5"], "--max-steps must be a positive"),
    (["--batch-size", "0"], "--batch-size must be a positive"),
    (["--log-every", "0"], "--log-every must be a positive"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be a positive"),
    (["--sample-every", "-1"], "--sample-every must be a positive"),
    (["--image-size", "-32"], "--image-size must be a positive"),
    (["--image-size", "0"], "--image-size must be a positive"),
    (["--image-size", "48"], "image_size"),
    (["--seed", "-1"], "--seed must lie in"),
    (["--seed", str(2**70)], "--seed must lie in"),
    (["-o", "weight_decay=nan"], "weight_decay"),
    (["-o", "lr=nan"], "lr"),
    (["-o", "lr=inf"], "lr"),
    (["-o", "beta1=nan"], "beta1"),
    (["-o", "leaky_slope=-inf"], "leaky_slope"),
    (["-o", "ngf=-1"], "ngf"),
    (["--out", ""], "--out is empty"),
    (["--device", "tpu"], "--device"),
    (["-o", "n=0"], "n"),
]


@pytest.mark.parametrize(("extra", "fragment"), BAD, ids=[" ".join(e) for e, _ in BAD])
def test_bad_value_one_line(cwd, extra, fragment):
    one_line(gs("run", *TINY, "--max-steps", "2", *extra), fragment)
    assert not (cwd / "runs").exists(), "a refused run left a folder behind"


def test_the_same_command_works_with_good_values(cwd):
    """The control: TINY itself is a valid run, so each refusal above is the bad value's doing."""
    res = gs("run", *TINY, "--max-steps", "1", "--out", cwd / "r")
    assert res.code == 0, res.err


def test_huge_width_one_line(cwd):
    line = one_line(gs("run", *TINY, "--max-steps", "2", "-o", "ngf=1000000000000"))
    assert "dcgan" in line


def test_batch_size_one_with_batchnorm(cwd):
    line = one_line(gs("run", *TINY, "--max-steps", "2", "--batch-size", "1", "--out", cwd / "r"))
    assert "--batch-size" in line


@pytest.mark.parametrize("flag", [["--seed", "3"], ["--batch-size", "4"], ["--image-size", "64"],
                                  ["--log-every", "5"], ["--checkpoint-every", "7"], ["--sample-every", "7"],
                                  ["-o", "lr=0.1"], ["--model", "dcgan"], ["--out", "x"]])
def test_resume_refuses_what_it_would_ignore(trained, flag):
    before = (trained / "config.json").read_bytes()
    line = one_line(gs("run", "--resume", trained, *flag))
    assert flag[0] in line and "ignored" in line
    assert (trained / "config.json").read_bytes() == before


def test_resume_and_restart_together(trained):
    one_line(gs("run", "--resume", trained, "--restart", trained), "pass one of them")


def test_resume_empty_path(cwd):
    one_line(gs("run", "--resume", ""), "--resume is empty")


def test_eval_huge_seed(trained):
    one_line(gs("eval", trained, "--eval", "fake-pixel-stats", "--seed", str(2**64)), "--seed")
