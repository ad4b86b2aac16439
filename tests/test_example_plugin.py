"""The example third-party package, installed like any user's plugin, needs no core change."""

from __future__ import annotations

import json


def test_listed_shown_and_in_plugins(cli):
    assert "tiny-gan" in cli("list", "models").stdout
    assert "pixel-stats" in cli("list", "probes").stdout
    assert "fake-pixel-stats" in cli("list", "evals").stdout
    shown = cli("show", "fake-pixel-stats")
    assert "dataset: fake" in shown.stdout and "probe: pixel-stats" in shown.stdout
    plugins = json.loads(cli("plugins", "--json").stdout)
    example = next(p for p in plugins if p["name"] == "example")
    assert example["distribution"] == "gansuite-example" and example["errors"] == []


def test_runs_end_to_end(cli, tmp_path):
    out = tmp_path / "run"
    res = cli("run", "--model", "tiny-gan", "--dataset", "fake", "--max-steps", "5", "--eval",
              "fake-pixel-stats", "--out", str(out), "--no-progress", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "tiny-gan"
    assert config["plugins"]["example"] == "gansuite-example 0.1.0"
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 5
    assert {"step", "loss_d", "loss_g", "images_per_s"} <= set(metrics[-1])
    results = json.loads((out / "results.json").read_text())
    assert {r["metric"] for r in results} == {"mean_gap", "std_gap"}
    assert all(r["eval"] == "fake-pixel-stats" and r["model"] == "tiny-gan" for r in results)
    assert all(0 <= r["value"] < 2 for r in results)
