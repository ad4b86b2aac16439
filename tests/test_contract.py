"""The model contract v2 through the real CLI, in-process: preflight catches broken plugins
before a run folder exists, plugin exceptions name the plugin, first-contract models still
train, and a conditional model gets labels and a class-per-row sample grid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from gansuite import GANModel, ModelSpec, hookimpl
from gansuite._host.manager import build_catalog, reset_catalog
from gansuite.engine.train import fixed_samples
from gansuite.testing import tiny_model

TRAIN = ["--dataset", "fake", "-o", "n=64", "--batch-size", "8", "--max-steps", "2", "--image-size", "16",
         "--device", "cpu", "--no-progress", "--log-every", "1"]


def _install(**factories: Any) -> None:
    """Register models named after the keyword arguments (``_`` -> ``-``) from a plugin 'broken'."""

    class Hooks:
        @hookimpl
        def register_models(self, register: Any) -> None:
            for name, factory in factories.items():
                register(ModelSpec(name=name.replace("_", "-"), summary="test model", factory=factory))

    reset_catalog(build_catalog(extra_plugins={"broken": Hooks()}))


def _fails_in_one_line(cli: Any, tmp_path: Path, model: str, *needles: str) -> None:
    out = tmp_path / "run"
    code, _, err = cli("run", "--model", model, "--out", str(out), *TRAIN)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in (f"'{model}'", "plugin 'broken'", *needles):
        assert needle in lines[0], lines[0]
    assert not out.exists(), "a failed preflight must leave no run folder"


def _raises(config: Any, *, image_size: int, channels: int) -> Any:
    raise RuntimeError("boom in the factory")


def _wrong_type(config: Any, *, image_size: int, channels: int) -> Any:
    return "not a model"


class _BadShape(GANModel):
    def __init__(self, image_size: int, channels: int) -> None:
        base = tiny_model(image_size, channels)
        self.z_dim, self.image_size, self.channels = base.z_dim, image_size, channels
        self.generator = nn.Sequential(base.generator, nn.AvgPool2d(2))  # half the promised size
        self.discriminator = base.discriminator


class _StepRaises(GANModel):
    def __init__(self, image_size: int, channels: int) -> None:
        base = tiny_model(image_size, channels)
        self.z_dim, self.image_size, self.channels = base.z_dim, image_size, channels
        self.generator, self.discriminator = base.generator, base.discriminator

    def train_step(self, batch: Any, ctx: Any) -> Any:
        raise ValueError("boom in train_step")


def test_a_raising_factory_is_one_line_naming_the_plugin_and_leaves_no_folder(cli, tmp_path):
    _install(raising_gan=_raises)
    _fails_in_one_line(cli, tmp_path, "raising-gan", "failed to build", "RuntimeError: boom in the factory")


def test_a_factory_returning_the_wrong_type_is_caught(cli, tmp_path):
    _install(wrong_gan=_wrong_type)
    _fails_in_one_line(cli, tmp_path, "wrong-gan", "returned a str, not a gansuite.GANModel")


def test_a_model_failing_the_one_batch_check_is_caught(cli, tmp_path):
    _install(shape_gan=lambda c, *, image_size, channels: _BadShape(image_size, channels))
    _fails_in_one_line(cli, tmp_path, "shape-gan", "fails the contract", "G's output has shape")


def test_an_exception_in_train_step_names_the_plugin(cli, tmp_path):
    _install(step_gan=lambda c, *, image_size, channels: _StepRaises(image_size, channels))
    code, _, err = cli("run", "--model", "step-gan", "--out", str(tmp_path / "r"), *TRAIN)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "'step-gan' (plugin 'broken'" in err and "train_step at step 1" in err and "boom in train_step" in err


class _FirstContract:
    """A model written against the first contract: a plain object, no base class."""

    def __init__(self, image_size: int, channels: int) -> None:
        base = tiny_model(image_size, channels)
        self.generator, self.discriminator = base.generator, base.discriminator
        self.z_dim, self.image_size, self.channels, self.recipe = 8, image_size, channels, base.recipe

    def sample_z(self, n: int, *, generator: Any = None, device: Any = None) -> torch.Tensor:
        return torch.rand(n, self.z_dim, generator=generator, device=device)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.discriminator.features(x)

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(-real).mean() + nn.functional.softplus(fake).mean()

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(-fake).mean()

    def optimizers(self) -> Any:
        return (torch.optim.Adam(self.generator.parameters()), torch.optim.Adam(self.discriminator.parameters()))


def test_a_first_contract_model_still_trains_with_todays_columns(cli, tmp_path):
    _install(old_gan=lambda c, *, image_size, channels: _FirstContract(image_size, channels))
    with pytest.warns(DeprecationWarning, match="without the GANModel base class.*removed in 3.0"):
        code, _, err = cli("run", "--model", "old-gan", "--out", str(tmp_path / "r"), *TRAIN)
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "images_per_s"} <= set(rows[-1])


class _CondG(nn.Module):
    def __init__(self, base: nn.Module, classes: int, z_dim: int) -> None:
        super().__init__()
        self.base, self.embed = base, nn.Embedding(classes, z_dim)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.base(z + self.embed(y))


class _CondD(nn.Module):
    def __init__(self, base: nn.Module, classes: int, seen: list[torch.Tensor]) -> None:
        super().__init__()
        self.base, self.embed, self.seen = base, nn.Embedding(classes, 1), seen

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> list[torch.Tensor]:
        return self.base.features(x)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.seen.append(y.detach().clone())
        return self.base(x) + self.embed(y).squeeze(1)


class _Conditional(GANModel):
    num_classes = 10

    def __init__(self, image_size: int, channels: int, seen: list[torch.Tensor]) -> None:
        base = tiny_model(image_size, channels)
        self.z_dim, self.image_size, self.channels, self.recipe = 8, image_size, channels, base.recipe
        self.generator = _CondG(base.generator, self.num_classes, 8)
        self.discriminator = _CondD(base.discriminator, self.num_classes, seen)


def test_a_conditional_model_gets_labels_and_a_row_per_class(cli, tmp_path):
    seen: list[torch.Tensor] = []
    _install(cond_gan=lambda c, *, image_size, channels: _Conditional(image_size, channels, seen))
    code, _, err = cli("run", "--model", "cond-gan", "--out", str(tmp_path / "r"), *TRAIN)
    assert code == 0, err
    labels = torch.cat(seen)
    assert labels.dtype == torch.int64 and labels.min() >= 0 and labels.max() < 10 and len(labels.unique()) > 1
    z, y = fixed_samples(_Conditional(16, 3, []), seed=0, device="cpu")
    assert y.tolist() == [k for k in range(10) for _ in range(6)] and len(z) == 60
    assert list((tmp_path / "r" / "samples").glob("step-*.png"))


def test_a_conditional_model_with_too_few_classes_for_the_data_is_refused(cli, tmp_path):
    class Four(_Conditional):
        num_classes = 4

    _install(cond_gan=lambda c, *, image_size, channels: Four(image_size, channels, []))
    code, _, err = cli("run", "--model", "cond-gan", "--out", str(tmp_path / "r"), *TRAIN)
    assert code == 2 and "conditions on 4 classes" in err and not (tmp_path / "r").exists(), err


def test_resuming_a_run_whose_plugin_is_disabled_says_so(cli, tmp_path, monkeypatch, example_plugin):
    out = tmp_path / "r"
    code, _, err = cli("run", "--model", "example-wgan-gp", "--out", str(out), "-o", "width=4",
                        "-o", "n_critic=1", *TRAIN)
    assert code == 0, err
    monkeypatch.setenv("GANSUITE_DISABLE_PLUGINS", "example")
    reset_catalog()
    for args in (("run", "--resume", str(out), "--max-steps", "3"), ("eval", str(out), "--eval", "digits-svm")):
        code, _, err = cli(*args)
        assert code == 2 and "GANSUITE_DISABLE_PLUGINS disables" in err and "plugin 'example'" in err, err


def test_precision_is_recorded_in_config_and_rows(cli, tmp_path, example_plugin):
    out = tmp_path / "r"
    code, _, err = cli("run", "--model", "tiny-gan", "--out", str(out), "--precision", "fp32",
                        "--eval", "fake-pixel-stats", *TRAIN)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["precision"] == "fp32" and config["precision_used"] == "fp32"
    rows = json.loads((out / "results.json").read_text())
    assert rows and all(r["precision"] == "fp32" and r["device"] == "cpu" for r in rows)
    code, _, err = cli("run", "--model", "tiny-gan", "--out", str(tmp_path / "x"), "--precision", "fp8",
                        *TRAIN)
    assert code == 2 and "fp8" in err


def test_a_trained_run_loads_and_samples_through_the_facade(cli, tmp_path):
    import gansuite

    out = tmp_path / "r"
    res = cli("run", "--model", "dcgan", "-o", "ngf=4", "-o", "ndf=4", "--out", str(out), *TRAIN[:-2],
              "--image-size", "32")
    assert res.returncode == 0, res.stderr
    model, config = gansuite.load_run(out)
    assert config["checkpoint_step"] == 2 and config["model"] == "dcgan"
    assert not model.generator.training and not model.discriminator.training
    z = model.sample_z(5, generator=torch.Generator().manual_seed(0))
    images = gansuite.generate_images(model, z, batch_size=2)
    assert images.shape == (5, 3, 32, 32) and images.abs().max() <= 1
    assert torch.allclose(images, gansuite.generate_images(model, z), atol=1e-5)  # eval mode: batching aside
    with pytest.raises(gansuite.CheckpointError):
        gansuite.load_run(tmp_path / "nothing-here")
