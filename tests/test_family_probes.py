"""Every registered model through every reference probe on tiny data (conditional models
included), and the ``gan-test`` and ``cas-score`` probes' ceilings, floors and refusals."""

from __future__ import annotations

import dataclasses
import math
from functools import cache
from pathlib import Path

import pytest
import torch
from gansuite_probes import EVALS, PROBES
from gansuite_probes.cas_score import CASScoreProbe
from gansuite_probes.config import CASScoreConfig, GANTestConfig
from gansuite_probes.gan_test import GANTestProbe
from helpers import load_digits, probe_ctx

from gansuite import balanced_labels
from gansuite import generate_images as generate
from gansuite._host.manager import get_catalog
from gansuite._host.options import build_config
from gansuite.contract.errors import OptionError
from gansuite.contract.protocols import ImageData, ProbeContext
from gansuite.engine.build import build_model

SIZE = 32
# Every registered model, at widths that make a probe run take a second.
TINY: dict[str, dict[str, object]] = {
    "dcgan": {"ngf": 8, "ndf": 8},
    "dcgan-pytorch-examples": {"ngf": 8, "ndf": 8},
    "dcgan-imagenet32": {"widths": (8, 8, 8, 8, 8, 8)},
    "wgan-gp": {"dim": 4},
    "sngan": {"ch": 16},
    "sngan-projection": {"ch": 16},
    "tiny-gan": {"width": 4},  # the example plugin, when installed
}
FAST: dict[str, dict[str, object]] = {
    "svm": {"max_iter": 15, "search_iter": 8, "val_size": 100, "max_train": 400, "max_test": 200},
    "latent-walk": {"n_walks": 2, "n_points": 3, "steps": 3},
    "arithmetic": {"n_classifier": 400, "n_pool": 200, "max_pairs": 3, "targets_per_pair": 2, "min_trials": 6, "grid_pairs": 1,
                   "n_neighbours": 2},
    "memorization": {"n_samples": 60, "n_holdout": 60, "max_train": 300},
    "gan-test": {"n_train": 600, "epochs": 2, "width": 8, "n_samples": 100, "max_test": 200},
    "cas-score": {"n_train": 200, "epochs": 2, "width": 8, "max_test": 200, "n_boot": 200},
}
MODELS = sorted(get_catalog().registry("models").names())


@cache
def _digits() -> dict[str, ImageData]:
    return load_digits(SIZE)


@cache
def _noise(n: int = 2048) -> dict[str, ImageData]:
    gen = torch.Generator().manual_seed(0)
    images = (torch.rand(n, 3, SIZE, SIZE, generator=gen) * 255).to(torch.uint8)
    labels = torch.arange(n) % 10
    return {"train": ImageData(images, labels), "test": ImageData(images[:200], labels[:200])}


def _model(name: str, seed: int = 0):
    spec = get_catalog().registry("models").get(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(spec, build_config(spec, TINY[name]), image_size=SIZE, channels=3)
    for net in (model.generator, model.discriminator, model.eval_generator()):
        net.eval()
    return model


def _ctx(name: str, probe: str, tmp_path: Path) -> ProbeContext:
    spec = next(e for e in EVALS if e.probe == probe)
    data = _noise() if probe == "fid" else _digits()
    return probe_ctx(tmp_path, data, _model(name), spec.name, random_model=lambda s: _model(name, 1000 + s))


def _probe(name: str, extractor: Path) -> object:
    spec = next(p for p in PROBES if p.name == name)
    values = dict(FAST[name])
    if name in ("kid", "fid"):
        values["weights"] = str(extractor)
    return spec.load_factory()(build_config(spec, values))


def test_every_model_and_probe_has_tiny_settings() -> None:
    assert set(MODELS) <= set(TINY), f"add tiny settings for {set(MODELS) - set(TINY)}"
    # the Inception probes (fid, kid, prdc, is) run on every model in tests/test_fid.py's settings;
    # guided-backprop and forgetting in tests/test_probes_section6.py
    covered_elsewhere = {"fid", "kid", "prdc", "is", "guided-backprop", "forgetting",
                         "cas"}  # cas: the deprecated name of gan-test (test_deprecated_cas_name_warns...)
    assert {p.name for p in PROBES} - covered_elsewhere == set(FAST)
    assert {"wgan-gp", "sngan", "sngan-projection"} <= set(MODELS)


@pytest.mark.parametrize("probe", sorted(FAST))
@pytest.mark.parametrize("name", MODELS)
def test_model_through_probe(name: str, probe: str, tiny_extractor: Path, tmp_path: Path) -> None:
    ctx = _ctx(name, probe, tmp_path)
    runner = _probe(probe, tiny_extractor)
    if probe in ("gan-test", "cas-score") and not ctx.model.num_classes:
        with pytest.raises(OptionError, match="unconditional"):
            runner.run(ctx)  # type: ignore[attr-defined]
        return
    rows = runner.run(ctx)  # type: ignore[attr-defined]
    assert rows
    for row in rows:
        assert isinstance(row["metric"], str) and isinstance(row["value"], float)
        empty = row["metric"] == "success_rate" and row.get("n_trials") == 0  # no class pair found
        assert math.isfinite(row["value"]) or empty, row
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_conditional_generation_is_class_balanced_and_uses_the_ema() -> None:
    model = _model("sngan-projection")
    y = balanced_labels(model, 25)
    assert y is not None and torch.bincount(y).tolist() == [3] * 5 + [2] * 5
    assert balanced_labels(_model("dcgan"), 5) is None
    seen = []
    handle = model.eval_generator().register_forward_pre_hook(lambda m, args: seen.append(args[1].clone()))
    generate(model, torch.randn(12, 128), batch_size=5)
    handle.remove()
    assert torch.equal(torch.cat(seen), torch.arange(12) % 10)


class _LabelPainter(torch.nn.Module):
    """A 'generator' that draws digit images of the requested class: copies of real ones."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: int = 10) -> None:
        super().__init__()
        self.bank = [images[labels == k].float() / 127.5 - 1 for k in range(classes)]

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        pick = (z[:, 0].abs() * 1000).long()
        bank = [self.bank[int(k) % len(self.bank)] for k in y]  # one class only: it ignores y
        return torch.stack([b[int(i) % len(b)] for b, i in zip(bank, pick, strict=True)])


def test_gan_test_scores_a_generator_that_draws_the_right_class(tmp_path: Path) -> None:
    data = _digits()
    ctx = _ctx("sngan-projection", "gan-test", tmp_path)
    painter = _LabelPainter(data["train"].images, data["train"].labels)
    ctx.model.generator = painter
    probe = GANTestProbe(GANTestConfig(n_train=None, epochs=10, width=16, n_samples=200,
                                       cache_dir=str(tmp_path / "cache")))
    rows = {r["variant"]: r for r in probe.run(ctx)}
    assert rows["real-test"]["value"] > 0.8 and rows["real-test"]["metric"] == "gan_test"
    assert rows["trained"]["value"] > 0.8  # real digits of the asked class: near the ceiling
    assert rows["random"]["value"] < 0.35  # a random G: about chance (0.1)
    assert rows["trained"]["chance"] == 0.1 and len(rows["trained"]["per_class"]) == 10
    assert rows["trained"]["classifier_real_accuracy"] == rows["real-test"]["value"]
    gain = rows["trained-random"]  # paired over the same z and labels
    assert gain["value"] == pytest.approx(rows["trained"]["value"] - rows["random"]["value"])
    assert gain["ci95_low"] > 0 and gain["distinguishable"] and "generated samples" in gain["ci_method"]
    assert (tmp_path / "gan-test-samples.png").is_file()
    # the classifier is deterministic and cached: a second run gives the same numbers, without training
    cached = {r["variant"]: r for r in probe.run(ctx)}
    assert [cached[v]["value"] for v in rows] == [rows[v]["value"] for v in rows]
    assert list((tmp_path / "cache").glob("gan-test-classifier-*.pt"))


def test_cas_score_trains_on_generated_and_tests_on_real(tmp_path: Path) -> None:
    data = _digits()
    ctx = _ctx("sngan-projection", "cas-score", tmp_path)
    ctx.model.generator = _LabelPainter(data["train"].images, data["train"].labels)
    cfg = CASScoreConfig(n_train=400, epochs=20, width=16, batch_size=32, n_boot=500)
    probe = CASScoreProbe(cfg)
    rows = {r["variant"]: r for r in probe.run(ctx)}
    assert {r["metric"] for r in rows.values()} == {"cas", "cas_minus_random", "cas_minus_real"}
    n_test = len(data["test"])
    for v in ("trained", "random", "real"):
        assert rows[v]["n_test"] == n_test and rows[v]["n_train"] == 400
    # real digits of the asked class teach the classifier about as well as real training images,
    # and clearly better than a random G's samples (about chance)
    up = rows["trained-random"]
    assert rows["random"]["value"] < 0.35 and up["ci95_low"] > 0.1
    assert "real test images" in up["ci_method"] and up["n_test"] == n_test
    assert up["value"] == pytest.approx(rows["trained"]["value"] - rows["random"]["value"])
    assert rows["trained-real"]["value"] > -0.2
    # a generator that ignores y (every sample a 0): trained on its samples, the classifier fails
    zeros = data["train"].images[data["train"].labels == 0]
    ctx.model.generator = _LabelPainter(zeros, torch.zeros(len(zeros), dtype=torch.long), classes=1)
    ignores = {r["variant"]: r for r in CASScoreProbe(dataclasses.replace(cfg, random_control=False)).run(ctx)}
    assert ignores["trained"]["value"] < 0.2 and ignores["trained-real"]["ci95_high"] < 0


def test_deprecated_cas_name_warns_and_runs_gan_test(tmp_path: Path) -> None:
    spec = get_catalog().registry("probes").get("cas")
    with pytest.warns(FutureWarning, match="gan-test"):
        probe = spec.load_factory()(build_config(spec, FAST["gan-test"]))
    assert isinstance(probe, GANTestProbe)
    assert get_catalog().registry("evals").get("digits-cas").probe == "cas"


def test_a_run_with_cas_on_an_unconditional_model_stops_before_training(cli, tmp_path: Path) -> None:
    out = cli("run", "--model", "dcgan", "--dataset", "digits", "--eval", "digits-gan-test", "-o", "ngf=8",
              "-o", "ndf=8", "--max-steps", "1", "--out", str(tmp_path / "r"), "--no-progress")
    assert out.returncode == 2 and "unconditional" in out.stderr
    assert not (tmp_path / "r").exists()


def test_tensor_cache_computes_once_and_survives_a_torn_file(tmp_path: Path) -> None:
    from gansuite_probes.common import TensorCache, content_key

    calls = []
    cache = TensorCache(tmp_path, "t")
    key = content_key(torch.arange(3), "x")
    assert key != content_key(torch.arange(3), "y") and key == content_key(torch.arange(3), "x")
    first = cache.get_or_compute(key, lambda: calls.append(1) or torch.ones(2))
    again = cache.get_or_compute(key, lambda: calls.append(1) or torch.zeros(2))
    assert torch.equal(first, again) and calls == [1]
    (tmp_path / f"t-{key}.pt").write_bytes(b"torn")
    assert torch.equal(cache.get_or_compute(key, lambda: torch.zeros(2)), torch.zeros(2))
    assert TensorCache(None, "t").get_or_compute(key, lambda: torch.full((1,), 7.0)).item() == 7.0
