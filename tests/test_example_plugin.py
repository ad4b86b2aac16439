"""The example third-party package, installed like any user's plugin, needs no core change.

These tests opt into it (``example_plugin``); the rest of the suite runs without it.
"""

from __future__ import annotations

import json

import pytest

from gansuite._host.manager import build_catalog

pytestmark = pytest.mark.usefixtures("example_plugin")


def test_example_plugin_is_installed_and_discovered():
    catalog = build_catalog()
    by_name = {r.info.name: r for r in catalog.plugins}
    assert "example" in by_name, "install it: pip install -e examples/gansuite-example"
    record = by_name["example"]
    assert record.info.distribution == "gansuite-example"
    assert record.registered == {"models": ["tiny-gan", "example-wgan-gp"], "datasets": ["npz-images"],
                                 "probes": ["pixel-stats"], "evals": ["fake-pixel-stats"]}
    spec = catalog.registry("models").get("tiny-gan")
    assert spec.plugin is not None and spec.plugin.version == "0.1.0"
    assert catalog.errors() == []


def test_listed_shown_and_in_plugins(cli):
    assert "tiny-gan" in cli("list", "models").stdout
    assert "pixel-stats" in cli("list", "probes").stdout
    assert "fake-pixel-stats" in cli("list", "evals").stdout
    shown = cli("show", "fake-pixel-stats")
    assert "dataset: fake" in shown.stdout and "probe: pixel-stats" in shown.stdout
    plugins = json.loads(cli("plugins", "--json").stdout)
    example = next(p for p in plugins if p["name"] == "example")
    assert example["distribution"] == "gansuite-example" and example["errors"] == []
    info = json.loads(cli("show", "tiny-gan", "--json").stdout)
    assert {"name": "width", "type": "int", "default": 16, "help": "channels of the first conv"} in info["options"]


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
