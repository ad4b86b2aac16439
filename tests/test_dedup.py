"""Dedup strategies: bucketing, exact, phash, ae-hash (knobs and cache), and the run policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gansuite_dedup.aehash import ae_hash, center_crops
from gansuite_dedup.buckets import group_equal_codes, pack_bits
from gansuite_dedup.config import AEHashConfig
from gansuite_dedup.simple import exact, phash

from gansuite._host.manager import get_catalog
from gansuite._host.options import build_config
from gansuite.contract.errors import IntegrityError, OptionError
from gansuite.contract.protocols import DedupStrategy, ImageData, Verification
from gansuite.engine.data import apply_dedup, check_integrity, prepare_training_data


def _smooth_images(n: int, seed: int = 0, size: int = 32) -> torch.Tensor:
    """Distinct smooth colour images (low-frequency noise, upsampled)."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand((n, 3, 4, 4), generator=gen) * 255
    return torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear").round().byte()


def test_group_equal_codes_buckets() -> None:
    codes = np.array([[1, 2], [3, 4], [1, 2], [1, 3], [3, 4], [1, 2]], dtype=np.uint64)
    assert group_equal_codes(codes) == [[0, 2, 5], [1, 4]]
    assert group_equal_codes(codes[:1]) == []
    bits = np.zeros((3, 70), dtype=bool)
    bits[1, 69] = True
    packed = pack_bits(bits)
    assert packed.shape == (3, 2) and packed.dtype == np.uint64
    assert group_equal_codes(packed) == [[0, 2]]


def test_exact_finds_copies_only() -> None:
    images = _smooth_images(6)
    images[4] = images[1]
    images[5] = images[2]
    images[5, 0, 0, 0] ^= 1  # one pixel off: not an exact copy
    strategy = exact()
    assert isinstance(strategy, DedupStrategy)
    assert strategy.find_groups(images) == [[1, 4]]


def test_phash_survives_brightness_but_separates_images() -> None:
    gen = torch.Generator().manual_seed(1)
    low = torch.rand((20, 3, 8, 8), generator=gen) * 255
    images = torch.nn.functional.interpolate(low, size=(32, 32), mode="bilinear").round().byte()
    brighter = (images.float() * 1.05).clamp(0, 255).round().byte()
    groups = phash(None).find_groups(torch.cat([images, brighter]))
    assert sum([i, i + 20] in groups for i in range(20)) >= 15
    assert all(len(g) == 2 and g[1] - g[0] == 20 for g in groups)  # never two different images


def test_phash_options_are_validated() -> None:
    spec = get_catalog().registry("dedup").get("phash")
    with pytest.raises(OptionError, match="hash_size"):
        build_config(spec, {"hash_size": "12"})


def test_center_crops_shapes() -> None:
    gray = torch.randint(0, 256, (2, 1, 48, 64), dtype=torch.uint8)
    crops = center_crops(gray)
    assert crops.shape == (2, 3, 32, 32) and torch.equal(crops[:, 0], crops[:, 1])
    same = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    assert torch.equal(center_crops(same), same)


def test_ae_hash_groups_copies_and_caches(tmp_path: Path) -> None:
    images = _smooth_images(64, seed=2)
    images = torch.cat([images, images[[5, 9]]])
    config = AEHashConfig(epochs=2, batch_size=32, progress=False)
    first = ae_hash(config)
    groups = first.find_groups(images, cache_dir=tmp_path)
    assert [5, 64] in groups and [9, 65] in groups
    assert first.cache_hit is False and len(list((tmp_path / "ae-hash").glob("*.pt"))) == 1
    second = ae_hash(config)
    assert second.find_groups(images, cache_dir=tmp_path) == groups and second.cache_hit is True
    other = ae_hash(AEHashConfig(epochs=3, batch_size=32, progress=False))
    other.find_groups(images, cache_dir=tmp_path)
    assert other.cache_hit is False  # a different knob is a different cache entry


def test_ae_hash_threshold_knob(tmp_path: Path) -> None:
    images = _smooth_images(40, seed=3)
    strategy = ae_hash(AEHashConfig(epochs=1, threshold=1e6, progress=False))
    assert strategy.find_groups(images) == [list(range(40))]  # every code all-zero
    spec = get_catalog().registry("dedup").get("ae-hash")
    with pytest.raises(OptionError, match="dropout"):
        build_config(spec, {"dropout": "1.5"})


def test_apply_dedup_keeps_first_of_each_group() -> None:
    images = _smooth_images(5)
    images[3] = images[0]
    data = ImageData(images, torch.arange(5), ("a",))
    kept, record = apply_dedup(exact(), "exact", data)
    assert len(kept) == 4 and kept.labels.tolist() == [0, 1, 2, 4]
    assert record["removed_count"] == 1 and record["strategy"] == "exact" and record["groups"] == 1


def _prepare(tmp_path: Path, dataset: str, allow: bool, dedup: str | None = None, **options: str):
    catalog = get_catalog()
    spec = catalog.registry("datasets").get(dataset)
    dspec = catalog.registry("dedup").get(dedup) if dedup else None
    return prepare_training_data(spec, build_config(spec, options), root=tmp_path, image_size=32,
                                 allow_unverified=allow, dedup=dspec,
                                 dedup_config=dspec.default_config() if dspec else None)


def test_checksum_policy(tmp_path: Path) -> None:
    from helpers import write_cifar

    write_cifar(tmp_path)
    with pytest.raises(IntegrityError, match="differ from the checksums its plugin lists for them.*allow-unverified"):
        _prepare(tmp_path, "cifar10", allow=False, download="false")
    prepared = _prepare(tmp_path, "cifar10", allow=True, download="false")
    prov = prepared.provenance()
    assert prov["data_verified"] is False and "data_batch_1" in prov["unverified_files"]
    assert prov["n_train"] == 20 and prov["dedup_removed"] == 0
    check_integrity("x", Verification(None), allow_unverified=False)  # unknown checksums pass


def test_prepare_with_dedup_records_strategy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANSUITE_CACHE", str(tmp_path / "cache"))
    prepared = _prepare(tmp_path, "fake", allow=False, dedup="exact", n="30")
    assert prepared.dedup is not None and prepared.dedup["strategy"] == "exact"
    assert prepared.provenance()["dedup_strategy"] == "exact"
    assert prepared.provenance()["n_train"] == 30 - prepared.dedup["removed_count"]
