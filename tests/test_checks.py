"""The checks of plugin outputs that the host and the conformance kit share (gansuite.engine.checks)."""

from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from gansuite import GANModel, ImageData, ModelSpec, PluginError, ProbeSpec
from gansuite.engine import checks
from gansuite.evaluation.evaluate import EvalSession
from gansuite.testing import check_model, check_probe, tiny_model

REPO = Path(__file__).resolve().parents[1]
PROBE = ProbeSpec(name="p", summary="")
HOST = ["gansuite/engine/train.py", "gansuite/engine/data.py", "gansuite/evaluation/evaluate.py",
        "gansuite/runs/preflight.py", "gansuite/cli/dedup_cmd.py"]


def _calls(path: str) -> set[str]:
    tree = ast.parse((REPO / path).read_text())
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


@pytest.mark.parametrize("name", checks.__all__)
def test_each_check_is_called_by_the_kit_and_by_the_host(name: str) -> None:
    kit = _calls("gansuite/testing.py")
    host = set().union(*(_calls(p) for p in HOST))
    if name == "check_step_stats":  # the kit trains through the host's loop, which calls it
        assert name in host
        return
    assert name in kit and name in host


@pytest.mark.parametrize("row", [{"metric": "m", "value": "high"}, {"metric": "m", "value": True},
                                 {"metric": "m"}, {"value": 1.0}, {"metric": "", "value": 1.0}, "m=1"])
def test_a_row_without_a_name_or_a_number_is_refused(row: Any) -> None:
    with pytest.raises(PluginError, match="Probe 'p'"):
        checks.check_rows(PROBE, [row])


def test_numbers_and_nan_are_values() -> None:
    rows = [{"metric": "a", "value": 1}, {"metric": "b", "value": math.nan}, {"metric": "c", "value": 0.5}]
    assert checks.check_rows(PROBE, rows) == rows
    with pytest.raises(PluginError, match="non-empty list"):
        checks.check_rows(PROBE, [])


def test_step_stats_must_be_a_non_empty_mapping() -> None:
    assert checks.check_step_stats("Model 'm'", {"loss": 1.0}) == {"loss": 1.0}
    with pytest.raises(PluginError, match="Model 'm': train_step must return"):
        checks.check_step_stats("Model 'm'", None)


def test_a_loaded_split_is_checked() -> None:
    from gansuite import DatasetSpec

    spec = DatasetSpec(name="d", summary="")
    good = ImageData(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.tensor([0, 1]))
    assert checks.check_split(spec, "train", good, image_size=8) is good
    for bad, match in [(ImageData(torch.zeros(2, 3, 8, 8)), "uint8"),
                       (ImageData(torch.zeros(0, 3, 8, 8, dtype=torch.uint8)), "non-empty"),
                       (ImageData(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.tensor([0])), "labels"),
                       (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), "ImageData")]:
        with pytest.raises(PluginError, match=match):
            checks.check_split(spec, "train", bad)
    with pytest.raises(PluginError, match="asked for 16x16"):
        checks.check_split(spec, "train", good, image_size=16)


def test_dedup_groups_are_checked() -> None:
    from gansuite import DedupSpec

    spec = DedupSpec(name="x", summary="")
    assert checks.check_groups(spec, [[1, 4]], 5) == [[1, 4]]
    for bad in ([[4, 1]], [[1]], [[1, 1]], [[1, 5]]):
        with pytest.raises(PluginError, match="Dedup 'x'"):
            checks.check_groups(spec, bad, 5)


class _Words:
    def __init__(self, config: Any) -> None:
        pass

    def run(self, ctx: Any) -> list[dict[str, Any]]:
        return [{"metric": "quality", "value": "good"}]


def test_the_kit_refuses_what_the_host_refuses(tmp_path: Path) -> None:
    spec = ProbeSpec(name="words", summary="", factory=lambda config: _Words(config))
    with pytest.raises(PluginError, match="Probe 'words'.*value is not a number"):
        check_probe(spec, tmp_path=tmp_path)


class _Controls:
    seen: dict[str, Any] = {}

    def __init__(self, config: Any) -> None:
        pass

    def run(self, ctx: Any) -> list[dict[str, Any]]:
        random = ctx.make_random_model(5)
        _Controls.seen.update(ctx=ctx, random=random, again=ctx.make_random_model(5),
                              other=ctx.make_random_model(6))
        return [{"metric": "m", "value": 0.0}]


def _weights(model: GANModel) -> list[torch.Tensor]:
    return list(model.generator.state_dict().values())


@pytest.mark.parametrize("model", [None, "sngan-projection"])
def test_the_kits_random_control_is_the_hosts(model: str | None, tmp_path: Path) -> None:
    spec = ProbeSpec(name="controls", summary="", factory=lambda config: _Controls(config))
    check_probe(spec, tmp_path=tmp_path, model=model, model_options={"ch": 16} if model else None,
                image_size=32 if model else 16)
    seen = _Controls.seen
    assert seen["ctx"].make_random_model.__func__ is EvalSession.make_random_model
    trained, random = seen["ctx"].model, seen["random"]
    assert type(random) is type(trained) and random.num_classes == trained.num_classes
    assert not random.generator.training and not random.discriminator.training and not trained.generator.training
    assert all(torch.equal(a, b) for a, b in zip(_weights(random), _weights(seen["again"]), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(_weights(random), _weights(seen["other"]), strict=True))
    if model:
        assert trained.num_classes > 0  # a conditional model, as a probe such as cas needs


class _CountsTotal(GANModel):
    """The kit's tiny model, logging the run's total steps as the engine reports it."""

    def __init__(self) -> None:
        base = tiny_model(16, 3)
        self.generator, self.discriminator = base.generator, base.discriminator
        self.z_dim, self.image_size, self.channels, self.recipe = base.z_dim, 16, 3, base.recipe

    def train_step(self, batch: Any, ctx: Any) -> dict[str, Any]:
        return {**super().train_step(batch, ctx), "total": float(ctx.total_steps)}


def test_the_kits_cut_keeps_the_runs_total_steps(tmp_path: Path) -> None:
    spec = ModelSpec(name="counts-total", summary="", factory=lambda config, **kw: _CountsTotal())
    row = check_model(spec, tmp_path=tmp_path, image_size=16, steps=6)
    rows = (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
    # a cut by a lower step limit (the kit's old way) logged total 3 for the first three steps
    assert row["total"] == 6 and len(rows) == 6 and all('"total": 6.0' in r for r in rows)
