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

from gansuite.plugin.model import GANModel, TrainingRecipe
from gansuite.plugin.protocols import ImageData, ProbeContext, Verification
from gansuite.plugin.specs import DatasetSpec, DedupSpec, EvalSpec, ModelSpec, ProbeSpec, Spec

__all__ = ["tiny_images", "tiny_model", "check_model", "check_dataset", "check_probe", "check_dedup"]


def _spec(kind: str, spec_or_name: Spec | str) -> Any:
    if isinstance(spec_or_name, Spec):
        return spec_or_name
    from gansuite.plugin.manager import get_catalog

    return get_catalog().registry(kind).get(spec_or_name)


def _config(spec: Spec, options: Mapping[str, Any] | None) -> Any:
    from gansuite.plugin.options import build_config

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
           steps: int, resuming: bool, batch_size: int) -> Any:
    from gansuite.engine.config import TrainConfig
    from gansuite.engine.data import TrainingData
    from gansuite.engine.runfolder import RunFolder
    from gansuite.engine.train import train
    from gansuite.plugin.options import config_dict

    cfg = TrainConfig(model_name=spec.name, model_config=config_dict(config), origin=f"Model '{spec.name}'",
                      device="cpu", batch_size=batch_size, max_steps=steps, checkpoint_every=2,
                      sample_every=10**9, log_every=1, progress=False, resuming=resuming)
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


def check_model(spec_or_name: ModelSpec | str, options: Mapping[str, Any] | None = None, *, tmp_path: Path,
                image_size: int = 32, channels: int = 3, batch_size: int = 8, steps: int = 4) -> dict[str, Any]:
    """Build the model, pass the one-batch contract check, train ``steps`` steps, and check
    that stopping at ``steps // 2`` and resuming ends bit-identical (weights, optimisers,
    ``extra_state``, logged metrics). Returns the last logged metrics row."""
    import torch

    from gansuite.engine import checkpoint as ckpt
    from gansuite.engine.build import build_model, smoke_check
    from gansuite.engine.runfolder import RunFolder

    spec = _spec("models", spec_or_name)
    config = _config(spec, options)

    def fresh() -> GANModel:
        torch.manual_seed(0)
        return build_model(spec, config, image_size=image_size, channels=channels)

    model = fresh()
    smoke_check(spec, model)
    data = tiny_images(max(4 * batch_size, 32), image_size=model.image_size, channels=model.channels,
                       num_classes=model.num_classes or 4)
    kw = {"batch_size": batch_size}
    _train(model, spec, config, data, tmp_path / "straight", steps=steps, resuming=False, **kw)
    _train(fresh(), spec, config, data, tmp_path / "resumed", steps=steps // 2, resuming=False, **kw)
    _train(fresh(), spec, config, data, tmp_path / "resumed", steps=steps, resuming=True, **kw)
    _, a = ckpt.load_latest(tmp_path / "straight" / "checkpoints")
    _, b = ckpt.load_latest(tmp_path / "resumed" / "checkpoints")
    for key in ("step", "generator", "discriminator", "opt_g", "opt_d", "extra", "sampler"):
        _equal_state(a.get(key), b.get(key), key)
    rows_a = [{k: v for k, v in r.items() if k != "images_per_s"} for r in RunFolder(tmp_path / "straight").read_metrics()]
    rows_b = [{k: v for k, v in r.items() if k != "images_per_s"} for r in RunFolder(tmp_path / "resumed").read_metrics()]
    assert rows_a == rows_b, "metrics.jsonl differs between the straight and the resumed run"
    assert len(rows_a) == steps and all(math.isfinite(v) for v in rows_a[-1].values())
    return rows_a[-1]


def check_dataset(spec_or_name: DatasetSpec | str, options: Mapping[str, Any] | None = None, *,
                  root: Path, image_size: int | None = None, splits: Sequence[str] = ()) -> dict[str, int]:
    """Build the dataset under ``root``; ``verify``/``info`` answer; each of ``splits``
    (default: the training split) loads as uint8 ``(N, C, H, W)`` with int64 labels of length
    N, resized to ``image_size`` when given. Returns the split sizes."""
    spec = _spec("datasets", spec_or_name)
    dataset = spec.load_factory()(_config(spec, options), root=Path(root))
    assert isinstance(dataset.verify(), Verification), "verify() must return a Verification"
    assert isinstance(dict(dataset.info()), dict), "info() must return a mapping"
    assert spec.train_split in tuple(dataset.splits), f"train split '{spec.train_split}' missing"
    sizes = {}
    for split in splits or (spec.train_split,):
        data = dataset.load(split, image_size=image_size)
        x = data.images
        assert x.dtype == torch.uint8 and x.dim() == 4 and len(data) > 0, f"{split}: images must be uint8 NCHW"
        if image_size is not None:
            assert tuple(x.shape[2:]) == (image_size, image_size), f"{split}: not resized to {image_size}"
        if data.labels is not None:
            assert data.labels.dtype == torch.int64 and data.labels.shape == (len(data),), f"{split}: labels"
        sizes[split] = len(data)
    return sizes


def check_probe(spec_or_name: ProbeSpec | str, options: Mapping[str, Any] | None = None, *, tmp_path: Path,
                model: GANModel | None = None, data: ImageData | None = None) -> list[dict[str, Any]]:
    """Run the probe on ``model`` (default: :func:`tiny_model`) with ``data`` (default:
    :func:`tiny_images`) as every split; rows must hold a string ``metric`` and a numeric
    ``value``. Returns the rows."""
    spec = _spec("probes", spec_or_name)
    model = model or tiny_model()
    data = data or tiny_images(256, image_size=model.image_size, channels=model.channels)
    probe = spec.load_factory()(_config(spec, options))
    from gansuite.evaluation.controls import GaussianFitModel, recalibrate_random_model

    ctx = ProbeContext(model=model,
                       make_random_model=lambda seed: recalibrate_random_model(
                           tiny_model(model.image_size, model.channels, seed), lambda: data, seed),
                       eval=EvalSpec(name="conformance", summary="", dataset="tiny", probe=spec.name),
                       load_split=lambda split: data, device=_device(model), out_dir=Path(tmp_path), seed=0,
                       progress=False,
                       make_data_fit_model=lambda seed: GaussianFitModel(data.images, model.z_dim, seed=seed,
                                                                         device=_device(model)))
    rows = probe.run(ctx)
    assert isinstance(rows, list) and rows, "run() must return a non-empty list of rows"
    for row in rows:
        assert isinstance(row.get("metric"), str), f"row without a metric name: {row!r}"
        assert isinstance(row.get("value"), (int, float)), f"row without a numeric value: {row!r}"
    return rows


def _device(model: GANModel) -> Any:
    return next((p.device for p in model.discriminator.parameters()), torch.device("cpu"))


def check_dedup(spec_or_name: DedupSpec | str, options: Mapping[str, Any] | None = None, *,
                tmp_path: Path) -> list[list[int]]:
    """Plant an exact duplicate among distinct images: the strategy must group it (groups are
    sorted index lists of size >= 2). Returns the groups."""
    spec = _spec("dedup", spec_or_name)
    images = tiny_images(24, num_classes=24).images.clone()
    images[17] = images[3]
    groups = spec.load_factory()(_config(spec, options)).find_groups(images, cache_dir=Path(tmp_path))
    assert all(len(g) >= 2 and list(g) == sorted(g) for g in groups), f"malformed groups: {groups}"
    assert any({3, 17} <= set(g) for g in groups), f"the planted duplicate (3, 17) was not found: {groups}"
    return groups
