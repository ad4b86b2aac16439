"""Datasets that need no files: ``fake`` (seeded noise) and ``digits`` (bundled with scikit-learn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from gansuite import ImageData
from gansuite_datasets.common import BaseDataset
from gansuite_datasets.config import DigitsConfig, FakeConfig

__all__ = ["FakeDataset", "DigitsDataset", "fake", "digits"]


class FakeDataset(BaseDataset):
    """Seeded random uint8 images and labels; the same config always gives the same pixels."""

    name = "fake"
    splits = ("train", "test")
    source = "generated on the fly (torch.Generator, seeded)"
    license = "none (synthetic)"

    def __init__(self, config: FakeConfig, *, root: Path) -> None:
        super().__init__(config, root=root)

    def _load(self, split: str, image_size: int | None) -> ImageData:
        cfg = self.config
        n = cfg.n if split == "train" else cfg.n_test
        gen = torch.Generator().manual_seed(cfg.seed * 2 + (0 if split == "train" else 1))
        images = torch.randint(0, 256, (n, cfg.channels, cfg.size, cfg.size), dtype=torch.uint8, generator=gen)
        labels = torch.randint(0, cfg.num_classes, (n,), dtype=torch.int64, generator=gen)
        classes = tuple(str(i) for i in range(cfg.num_classes))
        return ImageData(images, labels, classes, {"native_size": cfg.size})

    def info(self) -> dict[str, Any]:
        out = super().info()
        out["native_shape"] = [self.config.channels, self.config.size, self.config.size]
        return out


class DigitsDataset(BaseDataset):
    """scikit-learn's 1,797 8x8 handwritten digits, upscaled to 32x32 (bilinear), gray repeated."""

    name = "digits"
    splits = ("train", "test")
    source = "scikit-learn sklearn.datasets.load_digits (UCI optical recognition of handwritten digits)"
    license = "CC BY 4.0 (UCI ML repository)"
    native_size = 32

    def __init__(self, config: DigitsConfig, *, root: Path) -> None:
        super().__init__(config, root=root)

    def _all(self) -> tuple[torch.Tensor, torch.Tensor]:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        pixels = np.asarray(bunch.images, dtype=np.float32) * (255.0 / 16.0)  # 0..16 -> 0..255
        x = torch.from_numpy(pixels).unsqueeze(1)
        x = torch.nn.functional.interpolate(
            x, size=(self.native_size, self.native_size), mode="bilinear", align_corners=False
        )
        x = x.round_().clamp_(0, 255).to(torch.uint8)
        if self.config.channels == 3:
            x = x.repeat(1, 3, 1, 1)
        return x, torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))

    def _indices(self, n: int, split: str) -> np.ndarray:
        order = np.random.default_rng(self.config.split_seed).permutation(n)
        n_test = int(round(n * self.config.test_fraction))
        chosen = order[:n_test] if split == "test" else order[n_test:]
        return np.sort(chosen)

    def _load(self, split: str, image_size: int | None) -> ImageData:
        images, labels = self._all()
        idx = torch.from_numpy(self._indices(len(labels), split))
        classes = tuple(str(i) for i in range(10))
        return ImageData(images[idx].contiguous(), labels[idx].contiguous(), classes,
                         {"native_size": self.native_size})

    def info(self) -> dict[str, Any]:
        out = super().info()
        out["native_shape"] = [self.config.channels, self.native_size, self.native_size]
        return out


def fake(config: FakeConfig | None, *, root: Path) -> FakeDataset:
    """Factory of the ``fake`` dataset."""
    return FakeDataset(config or FakeConfig(), root=root)


def digits(config: DigitsConfig | None, *, root: Path) -> DigitsDataset:
    """Factory of the ``digits`` dataset."""
    return DigitsDataset(config or DigitsConfig(), root=root)
