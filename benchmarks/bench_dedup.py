"""Throughput of the dedup building blocks: ae-hash hashing once trained (target: at least
20,000 images/s on a 2-core CPU), bucketing at three sizes (time must grow linearly: compare
``items_per_s`` across the sizes), and the exact / pHash codes.

Quality (precision, recall, false positives on injected near-duplicates) is measured by
``benchmarks/dedup_quality.py``, not here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from gansuite._host.manager import get_catalog

TARGET_AE_IMAGES_PER_S = 20_000


def _images(n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen)


def test_ae_hash_hashing(benchmark: Any, record_throughput: Any, bench_settings: Any) -> None:
    """Codes for N images with a (fixed, untrained) 3072-128 encoder: hashing cost is independent
    of the weights' values, so this is the throughput of a trained model."""
    from gansuite_dedup.aehash import AutoEncoder, center_crops
    from gansuite_dedup.buckets import pack_bits

    n = bench_settings.n_items * 4
    crops = center_crops(_images(n))
    torch.manual_seed(0)
    model = AutoEncoder().eval()
    codes = benchmark.pedantic(lambda: pack_bits(model.bits(crops)), rounds=bench_settings.rounds,
                               warmup_rounds=bench_settings.warmup_rounds)
    assert codes.shape == (n, 2)
    record_throughput(items=n, unit="images/s", device="cpu", dtype="float32", batch_size=n,
                      spec=get_catalog().registry("dedup").get("ae-hash"), bytes_per_call=crops.nbytes,
                      target_images_per_s=TARGET_AE_IMAGES_PER_S)


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_bucketing_scales(benchmark: Any, record_throughput: Any, bench_settings: Any, scale: int) -> None:
    """Bucketing N 128-bit codes (one in ten repeated) at N, 2N and 4N."""
    from gansuite_dedup.buckets import group_equal_codes

    n = bench_settings.n_items * 20 * scale
    rng = np.random.default_rng(scale)
    codes = rng.integers(0, 2**63, size=(n, 2), dtype=np.uint64)
    codes[rng.choice(n, n // 10, replace=False)] = codes[rng.choice(n, n // 10, replace=False)]
    groups = benchmark.pedantic(lambda: group_equal_codes(codes), rounds=bench_settings.rounds,
                                warmup_rounds=bench_settings.warmup_rounds)
    assert groups
    record_throughput(items=n, unit="codes/s", device="cpu", dtype="uint64", batch_size=n, scale=scale,
                      bytes_per_call=codes.nbytes)


@pytest.mark.parametrize("name", ["exact", "phash"])
def test_baseline_codes(benchmark: Any, record_throughput: Any, bench_settings: Any, name: str) -> None:
    """Hash codes of the baselines (no bucketing)."""
    spec = get_catalog().registry("dedup").get(name)
    strategy = spec.load_factory()(spec.default_config())
    n = bench_settings.n_items * 4
    images = _images(n, seed=1)
    codes = benchmark.pedantic(lambda: strategy.codes(images), rounds=bench_settings.rounds,
                               warmup_rounds=bench_settings.warmup_rounds)
    assert codes.shape == (n, 2)
    record_throughput(items=n, unit="images/s", device="cpu", dtype="uint8", batch_size=n, spec=spec,
                      bytes_per_call=images.nbytes)
