"""Throughput of everything in the registry: a plugin's model or dedup strategy is benchmarked
here with no new code.

Per registered model, on CPU and (when available) CUDA: generator forward, discriminator
forward, one full training step (the engine's :class:`gansuite.engine.step.GANStep`), discriminator
feature extraction (every conv layer max-pooled to 4x4, as the probes use it), and an L2-SVM fit
on features of that model's dimension. Per registered dedup strategy: finding duplicate groups
(hashing and bucketing) in uint8 images.

Models are built with their default config at 32x32 (or the size their config fixes), outside
the timed call; ``benchmark.pedantic(setup=...)`` draws fresh inputs per round, untimed. CPU runs
in float32; CUDA in bf16 autocast, as the engine trains. Each benchmark records images/s (or
items/s), device, dtype, batch size, and the torch, gansuite and plugin versions in
``extra_info``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from gansuite._host.manager import get_catalog
from gansuite.engine.ceilings import count_gflop

_CATALOG = get_catalog()
MODELS = _CATALOG.registry("models").names()
DEDUP = _CATALOG.registry("dedup").names()
_BUILT: dict[tuple[str, str], Any] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "model_name" in metafunc.fixturenames:
        metafunc.parametrize("model_name", MODELS)
    if "dedup_name" in metafunc.fixturenames:
        metafunc.parametrize("dedup_name", DEDUP)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _autocast(device: torch.device) -> Any:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _dtype(device: torch.device) -> str:
    return "bfloat16-autocast" if device.type == "cuda" else "float32"


def _model(name: str, device: torch.device) -> tuple[Any, Any]:
    """The registered model ``name`` with its default config, on ``device`` (built once)."""
    key = (name, str(device))
    if key not in _BUILT:
        _BUILT.clear()  # one model at a time: keeps memory flat over a long registry
        spec = _CATALOG.registry("models").get(name)
        config = spec.default_config()
        size = getattr(config, "image_size", None) or 32
        torch.manual_seed(0)
        model = spec.load_factory()(config, image_size=size, channels=3)
        for net in (model.generator, model.discriminator):
            net.to(device, memory_format=torch.channels_last)
        _BUILT[key] = (spec, model)
    return _BUILT[key]


def _batch(model: Any, settings: Any) -> int:
    return int(settings.batch_size or model.recipe.batch_size)


def _images(model: Any, n: int, device: torch.device) -> torch.Tensor:
    x = torch.rand(n, model.channels, model.image_size, model.image_size, device=device)
    return x.mul_(2).sub_(1).contiguous(memory_format=torch.channels_last)


def _labels(model: Any, n: int, device: torch.device) -> torch.Tensor | None:
    """Class labels for a conditional model (None for an unconditional one)."""
    return model.sample_labels(n, device=device) if getattr(model, "num_classes", 0) else None


def _record(record_throughput: Any, spec: Any, model: Any, device: torch.device, batch: int,
            gflop: float | None = None) -> None:
    record_throughput(
        gflop_per_call=gflop,
        items=batch,
        unit="images/s",
        device=device,
        dtype=_dtype(device),
        batch_size=batch,
        spec=spec,
        model=spec.name,
        image_size=model.image_size,
    )


def test_generator_forward(
    benchmark: Any, record_throughput: Any, bench_settings: Any, device: torch.device, model_name: str
) -> None:
    spec, model = _model(model_name, device)
    batch = _batch(model, bench_settings)
    model.generator.eval()

    def run(z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        with torch.inference_mode(), _autocast(device):
            out = model.generate(z, y)
        _sync(device)
        return out

    out = benchmark.pedantic(
        run,
        setup=lambda: ((model.sample_z(batch, device=device), _labels(model, batch, device)), {}),
        rounds=bench_settings.rounds,
        warmup_rounds=bench_settings.warmup_rounds,
    )
    assert out.shape == (batch, model.channels, model.image_size, model.image_size)
    gflop = count_gflop(lambda: run(model.sample_z(batch, device=device), _labels(model, batch, device)))
    _record(record_throughput, spec, model, device, batch, gflop)


def test_discriminator_forward(
    benchmark: Any, record_throughput: Any, bench_settings: Any, device: torch.device, model_name: str
) -> None:
    spec, model = _model(model_name, device)
    batch = _batch(model, bench_settings)
    model.discriminator.eval()

    def run(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        with torch.inference_mode(), _autocast(device):
            out = model.discriminate(x, y)
        _sync(device)
        return out

    out = benchmark.pedantic(
        run,
        setup=lambda: ((_images(model, batch, device), _labels(model, batch, device)), {}),
        rounds=bench_settings.rounds,
        warmup_rounds=bench_settings.warmup_rounds,
    )
    assert out.shape == (batch,)
    gflop = count_gflop(lambda: run(_images(model, batch, device), _labels(model, batch, device)))
    _record(record_throughput, spec, model, device, batch, gflop)


def test_train_step(
    benchmark: Any, record_throughput: Any, bench_settings: Any, device: torch.device, model_name: str
) -> None:
    step_mod = importlib.import_module("gansuite.engine.step")
    spec, model = _model(model_name, device)
    batch = _batch(model, bench_settings)
    for net in (model.generator, model.discriminator):
        net.train()
    opt_g, opt_d = model.optimizers()
    step = step_mod.GANStep(model, opt_g, opt_d, device=device)
    z_gen = torch.Generator(device=device).manual_seed(0)

    def fresh() -> Any:  # a real batch (with labels for a conditional model)
        return step_mod.Batch(_images(model, batch, device), _labels(model, batch, device))

    def run(real: Any, extra: list[Any]) -> Any:
        # A model owns its step and may draw any number of extra batches; the pool built untimed
        # covers the recipe's D steps and more, and a batch past it is built on the spot.
        stats = step(real, z_gen, next_batch=lambda: extra.pop() if extra else fresh())
        _sync(device)
        return stats

    pool = max(8, getattr(model.recipe, "d_steps", 1))
    stats = benchmark.pedantic(
        run,
        setup=lambda: ((fresh(), [fresh() for _ in range(pool)]), {}),
        rounds=bench_settings.rounds,
        warmup_rounds=bench_settings.warmup_rounds,
    )
    assert all(bool(torch.isfinite(torch.as_tensor(v))) for v in stats.values())
    gflop = count_gflop(lambda: run(fresh(), [fresh() for _ in range(pool)]))
    _record(record_throughput, spec, model, device, batch, gflop)
    benchmark.extra_info["d_steps"] = model.recipe.d_steps
    benchmark.extra_info["g_steps"] = model.recipe.g_steps


def _pooled_features(model: Any, x: torch.Tensor, pool: int = 4) -> torch.Tensor:
    feats = model.features(x)
    return torch.cat([F.adaptive_max_pool2d(f.float(), pool).flatten(1) for f in feats], dim=1)


def test_feature_extraction(
    benchmark: Any, record_throughput: Any, bench_settings: Any, device: torch.device, model_name: str
) -> None:
    spec, model = _model(model_name, device)
    batch = _batch(model, bench_settings)
    model.discriminator.eval()

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), _autocast(device):
            out = _pooled_features(model, x)
        _sync(device)
        return out

    out = benchmark.pedantic(
        run,
        setup=lambda: ((_images(model, batch, device),), {}),
        rounds=bench_settings.rounds,
        warmup_rounds=bench_settings.warmup_rounds,
    )
    assert out.shape[0] == batch and out.shape[1] > 0
    gflop = count_gflop(lambda: run(_images(model, batch, device)))
    _record(record_throughput, spec, model, device, batch, gflop)
    benchmark.extra_info["feature_dim"] = int(out.shape[1])


def _svm_solver() -> Any:
    """The L2-SVM solver of the ``svm`` probe's plugin (skips when no plugin provides one)."""
    probes = _CATALOG.registry("probes")
    if "svm" not in probes:
        pytest.skip("no 'svm' probe is registered")
    ref = probes.get("svm").factory
    package = (ref if isinstance(ref, str) else getattr(ref, "__module__", "")).split(".", 1)[0].split(":")[0]
    try:
        return importlib.import_module(f"{package}.l2svm").fit_l2svm
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"the 'svm' probe's plugin has no l2svm.fit_l2svm solver ({exc})")


def test_svm_fit(
    benchmark: Any, record_throughput: Any, bench_settings: Any, device: torch.device, model_name: str
) -> None:
    """L2-SVM fit (fixed L-BFGS iterations) on standardised features of this model's dimension."""
    fit = _svm_solver()
    spec, model = _model(model_name, device)
    model.discriminator.eval()
    with torch.inference_mode():
        dim = int(_pooled_features(model, _images(model, 1, device)).shape[1])
    n, classes, iters = bench_settings.n_items, 10, bench_settings.svm_iterations
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(n, dim, generator=gen).to(device)
    labels = torch.randint(0, classes, (n,), generator=gen).to(device)
    X += torch.randn(classes, dim, generator=gen).to(device)[labels] * 0.1  # some class structure

    def run(X: torch.Tensor, labels: torch.Tensor) -> Any:
        result = fit(X, labels, classes, 0.01, max_iter=iters, tol=0.0)
        _sync(device)
        return result

    result = benchmark.pedantic(
        run,
        setup=lambda: ((X, labels), {}),
        rounds=bench_settings.rounds,
        warmup_rounds=bench_settings.warmup_rounds,
    )
    assert result.weight.shape == (dim, classes)
    # Feature reads bound it: each matmul over X (n x dim) with `classes` columns does
    # 2 * n * dim * classes FLOPs and reads X's 4 * n * dim bytes once.
    gflop = count_gflop(lambda: run(X, labels))
    reads = gflop * 1e9 / (2 * classes) * 4 if gflop else None
    record_throughput(
        bytes_per_call=reads,
        items=n,
        unit="items/s",
        device=device,
        dtype="float32",
        batch_size=n,
        spec=spec,
        model=spec.name,
        feature_dim=dim,
        classes=classes,
        max_iter=iters,
    )


def _dedup_images(n: int) -> torch.Tensor:
    """uint8 images, one in ten an exact copy of another (so there are groups to find)."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen)
    copies = torch.randperm(n, generator=gen)[: n // 5]
    images[copies[: n // 10]] = images[copies[n // 10 :]]
    return images


def test_dedup_find_groups(
    benchmark: Any,
    record_throughput: Any,
    bench_settings: Any,
    tmp_path_factory: pytest.TempPathFactory,
    dedup_name: str,
) -> None:
    """Hashing and bucketing (a trained strategy trains in the warmup round, then uses its cache)."""
    spec = _CATALOG.registry("dedup").get(dedup_name)
    config = spec.default_config()
    if config is not None and hasattr(config, "progress"):
        import dataclasses

        config = dataclasses.replace(config, progress=False)
    strategy = spec.load_factory()(config)
    n = bench_settings.n_items
    images = _dedup_images(n)
    cache: Path = tmp_path_factory.mktemp(f"dedup-{dedup_name}")
    groups = benchmark.pedantic(
        lambda x: strategy.find_groups(x, cache_dir=cache),
        setup=lambda: ((images,), {}),
        rounds=bench_settings.rounds,
        warmup_rounds=max(1, bench_settings.warmup_rounds),
    )
    assert isinstance(groups, list)
    record_throughput(
        bytes_per_call=images.numel() * images.element_size(),  # the uint8 images read
        items=n,
        unit="images/s",
        device="cpu",
        dtype="uint8",
        batch_size=n,
        spec=spec,
        dedup=spec.name,
        groups=len(groups),
    )
