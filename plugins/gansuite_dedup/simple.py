"""The baselines: ``exact`` (hash of the decoded pixels) and ``phash`` (DCT perceptual hash)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.transforms.v2.functional import rgb_to_grayscale

from gansuite_dedup.buckets import group_equal_codes, pack_bits
from gansuite_dedup.config import PHashConfig

__all__ = ["ExactDedup", "PHashDedup", "exact", "phash", "dct_matrix"]

_CHUNK = 4096


class ExactDedup:
    """Pixel-identical images: a 128-bit BLAKE2b digest of each image's bytes, bucketed."""

    def codes(self, images: torch.Tensor) -> np.ndarray:
        arr = np.ascontiguousarray(images.numpy() if isinstance(images, torch.Tensor) else images)
        flat = arr.reshape(len(arr), -1)
        out = np.empty((len(arr), 16), dtype=np.uint8)
        for i, row in enumerate(flat):
            out[i] = np.frombuffer(hashlib.blake2b(row.tobytes(), digest_size=16).digest(), dtype=np.uint8)
        return out.view(np.uint64)

    def find_groups(self, images: torch.Tensor, *, cache_dir: Path | None = None) -> list[list[int]]:
        return group_equal_codes(self.codes(images))


def dct_matrix(n: int) -> torch.Tensor:
    """The orthonormal DCT-II matrix ``D`` (``D @ x`` transforms a column)."""
    k = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(n, dtype=torch.float64).unsqueeze(0)
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.float()


class PHashDedup:
    """DCT pHash (as in the ``imagehash`` package): equal hashes form a group."""

    def __init__(self, config: PHashConfig) -> None:
        self.config = config

    def codes(self, images: torch.Tensor) -> np.ndarray:
        hs = self.config.hash_size
        side = hs * self.config.highfreq_factor
        d = dct_matrix(side)
        bits = []
        for start in range(0, len(images), _CHUNK):
            x = images[start : start + _CHUNK].float()
            gray = rgb_to_grayscale(x) if x.shape[1] == 3 else x.mean(1, keepdim=True)
            small = torch.nn.functional.interpolate(
                gray, size=(side, side), mode="bilinear", align_corners=False, antialias=gray.shape[-1] > side
            )[:, 0]
            low = (d @ small @ d.T)[:, :hs, :hs].reshape(len(x), -1)
            bits.append((low > torch.quantile(low, 0.5, dim=1, keepdim=True)).numpy())
        return pack_bits(np.concatenate(bits) if bits else np.zeros((0, hs * hs), dtype=bool))

    def find_groups(self, images: torch.Tensor, *, cache_dir: Path | None = None) -> list[list[int]]:
        return group_equal_codes(self.codes(images))


def exact(config: Any = None) -> ExactDedup:
    """Factory of the ``exact`` strategy."""
    return ExactDedup()


def phash(config: PHashConfig | None = None) -> PHashDedup:
    """Factory of the ``phash`` strategy."""
    return PHashDedup(config or PHashConfig())
