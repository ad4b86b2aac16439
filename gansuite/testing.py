"""A conformance kit for plugin authors: call it from your own pytest suite.

::

    from gansuite.testing import check_model

    def test_my_model(tmp_path):
        check_model("my-gan", {"width": 8}, tmp_path=tmp_path)

Each check builds the registered thing the way ``gansuite`` does, exercises it on tiny data
and raises ``AssertionError`` (or the plugin's own exception) on a contract violation. No
fixture or conftest of gansuite's own test suite is needed; the plugin must be installed (its
entry point registered) or its spec passed directly. Unlike ``import gansuite``, importing
this module imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gansuite.contract.model import GANModel, TrainingRecipe
from gansuite.contract.protocols import ImageData, ProbeContext, Verification
from gansuite.contract.specs import DatasetSpec, DedupSpec, EvalSpec, ModelSpec, ProbeSpec, Spec

__all__ = ["tiny_images", "tiny_model", "TINY_SPEC", "check_model", "check_dataset", "check_probe", "check_dedup"]


def _spec(kind: str, spec_or_name: Spec | str) -> Any:
    if isinstance(spec_or_name, Spec):
        return spec_or_name
    from gansuite._host.manager import get_catalog

    return get_catalog().registry(kind).get(spec_or_name)


def _config(spec: Spec, options: Mapping[str, Any] | None) -> Any:
    from gansuite._host.options import build_config

    return build_config(spec, dict(options or {}))


def tiny_images(n: int = 64, *, image_size: int = 16, channels: int = 3, num_classes: int = 4,
                seed: int = 0) -> ImageData:
    """``n`` labelled uint8 images: each class a different smooth pattern plus noise."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    ramp = torch.linspace(0, 1, image_size)
    base = torch.stack([torch.outer(ramp, ramp).roll(k * image_size // max(1, num_classes), 1)
                        for k in range(num_classes)])
    x = base[labels].unsqueeze(1).expand(-1, channels, -1, -1)
    x = (x * 200 + torch.rand(n, channels, image_size, image_size, generator=gen) * 55)
    return ImageData(x.round().clamp(0, 255).to(torch.uint8), labels.long(),
                     tuple(f"c{k}" for k in range(num_classes)))


class _TinyD(nn.Module):
    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(channels, 8, 4, 2, 1), nn.Conv2d(8, 16, 4, 2, 1)])
        self.head = nn.Linear(16 * (size // 4) ** 2, 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), 0.2)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[-1].flatten(1)).squeeze(1)


class _TinyModel(GANModel):
    def __init__(self, image_size: int, channels: int) -> None:
        self.z_dim, self.image_size, self.channels = 8, image_size, channels
        self.recipe = TrainingRecipe(batch_size=16)
        q = image_size // 4
        self.generator = nn.Sequential(
            nn.Linear(self.z_dim, 8 * q * q), nn.Unflatten(1, (8, q, q)), nn.Upsample(scale_factor=2),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(8, channels, 3, padding=1), nn.Tanh())
        self.discriminator = _TinyD(channels, image_size)

    def generator_blocks(self) -> list[nn.Module]:
        layers = list(self.generator.children())  # outputs are the 4-D maps: reshape, hidden ReLU, Tanh
        return [layers[1], layers[4], layers[7]]


def tiny_model(image_size: int = 16, channels: int = 3, seed: int = 0) -> GANModel:
    """A two-layer :class:`GANModel` (default step and losses), for probe and dedup checks."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _TinyModel(image_size, channels)


def _train(model: GANModel, spec: ModelSpec, config: Any, data: ImageData, folder: Path, *,
           steps: int, resuming: bool, batch_size: int, stop_after: int | None = None) -> Any:
    from gansuite._host.options import config_dict
    from gansuite.engine.config import TrainConfig
    from gansuite.engine.data import TrainingData
    from gansuite.engine.runfolder import RunFolder
    from gansuite.engine.train import train

    cfg = TrainConfig(model_name=spec.name, model_config=config_dict(config), origin=f"Model '{spec.name}'",
                      device="cpu", batch_size=batch_size, max_steps=steps, checkpoint_every=2,
                      sample_every=10**9, log_every=1, progress=False, resuming=resuming, stop_after=stop_after)
    return train(model, cfg, RunFolder(folder).create(), TrainingData(data, Verification(None)))


def _equal_state(a: Any, b: Any, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), f"{where} differs after resume"
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping) and set(a) == set(b), f"{where}: keys differ after resume"
        for k in a:
            _equal_state(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ after resume"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _equal_state(x, y, f"{where}[{i}]")
    else:
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)), f"{where} differs"


def _metrics(folder: Path) -> list[dict[str, Any]]:
    from gansuite.engine.runfolder import RunFolder

    return [{k: v for k, v in r.items() if k != "images_per_s"} for r in RunFolder(folder).read_metrics()]


def check_model(spec_or_name: ModelSpec | str, options: Mapping[str, Any] | None = None, *, tmp_path: Path,
                image_size: int = 32, channels: int = 3, batch_size: int = 8, steps: int = 4) -> dict[str, Any]:
    """Build the model, pass the host's one-batch check, train ``steps`` steps, and check that
    a run of the same ``steps`` cut after step ``steps // 2`` (as Ctrl-C cuts it: the run's
    total, ``ctx.total_steps``, stays ``steps``) and resumed ends bit-identical (weights,
    optimisers, ``extra_state``, data position, logged metrics). Returns the last logged row."""
    from gansuite.engine import checkpoint as ckpt
    from gansuite.engine.build import build_model, smoke_check
    from gansuite.engine.checks import check_extra_state

    spec = _spec("models", spec_or_name)
    config = _config(spec, options)

    def fresh() -> GANModel:
        torch.manual_seed(0)
        return build_model(spec, config, image_size=image_size, channels=channels)

    model = fresh()
    smoke_check(spec, model)
    check_extra_state(f"Model '{spec.name}' ({spec.origin()})", model.extra_state())
    data = tiny_images(max(4 * batch_size, 32), image_size=model.image_size, channels=model.channels,
                       num_classes=model.num_classes or 4)
    kw = {"batch_size": batch_size, "steps": steps}
    _train(model, spec, config, data, tmp_path / "straight", resuming=False, **kw)
    cut = _train(fresh(), spec, config, data, tmp_path / "resumed", resuming=False, stop_after=steps // 2, **kw)
    assert cut.steps == steps // 2 and cut.stopped_because == "interrupted", "the cut run did not stop where cut"
    _train(fresh(), spec, config, data, tmp_path / "resumed", resuming=True, **kw)
    _, a = ckpt.load_latest(tmp_path / "straight" / "checkpoints")
    _, b = ckpt.load_latest(tmp_path / "resumed" / "checkpoints")
    for key in ("step", "generator", "discriminator", "opt_g", "opt_d", "extra", "sampler"):
        _equal_state(a.get(key), b.get(key), key)
    rows_a, rows_b = _metrics(tmp_path / "straight"), _metrics(tmp_path / "resumed")
    assert rows_a == rows_b, "metrics.jsonl differs between the straight and the resumed run"
    assert len(rows_a) == steps and all(math.isfinite(v) for v in rows_a[-1].values())
    return rows_a[-1]


def check_dataset(spec_or_name: DatasetSpec | str, options: Mapping[str, Any] | None = None, *,
                  root: Path, image_size: int | None = None, splits: Sequence[str] = ()) -> dict[str, int]:
    """Build the dataset under ``root`` as the host does; ``verify``/``info`` answer; each of
    ``splits`` (default: the training split) passes the host's check of a loaded split (uint8
    ``(N, C, H, W)``, int64 labels of length N, resized to ``image_size`` when given). Returns
    the split sizes."""
    from gansuite.engine.build import plugin_call
    from gansuite.engine.checks import check_split
    from gansuite.engine.data import build_dataset

    spec = _spec("datasets", spec_or_name)
    dataset = build_dataset(spec, _config(spec, options), Path(root))
    assert isinstance(plugin_call(spec, "to verify its files", dataset.verify), Verification), \
        "verify() must return a Verification"
    assert isinstance(dict(plugin_call(spec, "to describe itself", dataset.info)), dict), "info() must return a mapping"
    assert spec.train_split in tuple(dataset.splits), f"train split '{spec.train_split}' missing"
    sizes = {}
    for split in splits or (spec.train_split,):
        data = plugin_call(spec, f"to load split '{split}'", dataset.load, split, image_size=image_size)
        sizes[split] = len(check_split(spec, split, data, image_size=image_size))
    return sizes


def _random_model_host(spec: ModelSpec, config: Any, model: GANModel, tmp_path: Path) -> Any:
    """The host's eval session for ``model``: its ``make_random_model`` is the control the
    host gives a probe (same spec and config, freshly initialised, eval mode, same device)."""
    from gansuite._host.manager import get_catalog
    from gansuite.engine.runfolder import RunFolder
    from gansuite.evaluation.evaluate import EvalSession

    return EvalSession(catalog=get_catalog(), folder=RunFolder(tmp_path / "run"), model=model, model_spec=spec,
                       model_config=config, config={}, data_root=tmp_path, allow_unverified=True, seed=0,
                       progress=False)


def _build_tiny(config: Any, *, image_size: int, channels: int) -> GANModel:
    return _TinyModel(image_size, channels)


TINY_SPEC = ModelSpec(name="conformance-tiny", summary="the kit's two-layer model", factory=_build_tiny)
"""The spec of :func:`tiny_model` (not registered): what :func:`check_probe` evaluates by default."""


def check_probe(spec_or_name: ProbeSpec | str, options: Mapping[str, Any] | None = None, *, tmp_path: Path,
                model: ModelSpec | str | None = None, model_options: Mapping[str, Any] | None = None,
                image_size: int = 16, channels: int = 3, data: ImageData | None = None) -> list[dict[str, Any]]:
    """Run the probe as the host runs an eval: on ``model`` (a registered name or a spec, built
    with ``model_options``; default: :func:`tiny_model`) in eval mode, with the host's random
    control of the same architecture, ``data`` (default: :func:`tiny_images`) as every split,
    the probe's optional ``check_model`` first and the host's check of the rows after.
    Returns the rows."""
    from gansuite.engine.build import build_model, plugin_call
    from gansuite.engine.checks import check_probe_model, check_rows

    spec = _spec("probes", spec_or_name)
    if isinstance(model, GANModel):
        raise TypeError("check_probe(model=...) takes a registered model name or a ModelSpec (with "
                        "model_options), not a built model: the random control is rebuilt from the spec, "
                        "as the host rebuilds it")
    model_spec = TINY_SPEC if model is None else _spec("models", model)
    model_config = _config(model_spec, model_options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        trained = build_model(model_spec, model_config, image_size=image_size, channels=channels)
    for net in (trained.generator, trained.discriminator, trained.eval_generator()):
        net.eval()
    data = data or tiny_images(256, image_size=trained.image_size, channels=trained.channels,
                               num_classes=trained.num_classes or 4)
    probe = plugin_call(spec, "to build", spec.load_factory(), _config(spec, options))
    check_probe_model(spec, probe, trained)
    host = _random_model_host(model_spec, model_config, trained, Path(tmp_path))
    ctx = ProbeContext(model=trained, make_random_model=host.make_random_model,
                       eval=EvalSpec(name="conformance", summary="", dataset="tiny", probe=spec.name),
                       load_split=lambda split: data, device=_device(trained), out_dir=Path(tmp_path), seed=0,
                       progress=False)
    return check_rows(spec, plugin_call(spec, "in eval 'conformance'", probe.run, ctx))


def _device(model: GANModel) -> Any:
    return next((p.device for p in model.discriminator.parameters()), torch.device("cpu"))


def check_dedup(spec_or_name: DedupSpec | str, options: Mapping[str, Any] | None = None, *,
                tmp_path: Path) -> list[list[int]]:
    """Plant an exact duplicate among distinct images: the strategy must group it, and its
    groups pass the host's check (sorted, distinct indices, two or more each). Returns the groups."""
    from gansuite.engine.build import plugin_call
    from gansuite.engine.checks import check_groups

    spec = _spec("dedup", spec_or_name)
    images = tiny_images(24, num_classes=24).images.clone()
    images[17] = images[3]
    strategy = plugin_call(spec, "to build", spec.load_factory(), _config(spec, options))
    groups = check_groups(spec, plugin_call(spec, "to deduplicate the data", strategy.find_groups, images,
                                            cache_dir=Path(tmp_path)), len(images))
    assert any({3, 17} <= set(g) for g in groups), f"the planted duplicate (3, 17) was not found: {groups}"
    return groups
