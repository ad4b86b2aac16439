"""Downsampled ImageNet 32x32 (Chrabaszcz et al. 2017) in its npz batch format."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from gansuite import CorruptDataError, ImageData, MissingDataError
from gansuite_datasets.common import BaseDataset
from gansuite_datasets.config import ImageNet32Config

__all__ = ["ImageNet32", "imagenet32", "read_npz", "SPLIT_FILES"]

SPLIT_FILES = {
    "train": tuple(f"train_data_batch_{i}.npz" for i in range(1, 11)),
    "val": ("val_data.npz",),
}
SIDE = 32


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``data`` (N x 3072 uint8, R/G/B planes) and 1-based ``labels`` -> NCHW and 0-based labels."""
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as npz:
            data, labels = npz["data"], npz["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise CorruptDataError(
            f"{path} is not a readable ImageNet32 npz batch ({type(exc).__name__}: {exc}); download it again."
        ) from None
    if data.ndim != 2 or data.shape[1] != 3 * SIDE * SIDE:
        raise CorruptDataError(f"{path}: 'data' has shape {data.shape}, expected N x {3 * SIDE * SIDE}.")
    labels = np.asarray(labels, dtype=np.int64).reshape(-1) - 1
    if len(labels) != len(data) or (len(labels) and labels.min() < 0):
        raise CorruptDataError(f"{path}: labels do not match the images (expected N labels from 1 to 1000).")
    return np.asarray(data, dtype=np.uint8).reshape(-1, 3, SIDE, SIDE), labels


class ImageNet32(BaseDataset):
    """1,281,167 train / 50,000 val ImageNet images, box-resized to 32x32, 1,000 classes."""

    name = "imagenet32"
    splits = ("train", "val")
    source = "https://image-net.org/download-images (Downsampled ImageNet 32x32, npz format)"
    license = "ImageNet terms of access (non-commercial research)"

    def __init__(self, config: ImageNet32Config, *, root: Path) -> None:
        super().__init__(config, root=root)

    def location(self) -> Path:
        path = Path(self.config.folder).expanduser()
        return path if path.is_absolute() else self.root / path

    def expected_files(self) -> tuple[str, ...]:
        return SPLIT_FILES["train"] + SPLIT_FILES["val"]

    def _load(self, split: str, image_size: int | None) -> ImageData:
        folder = self.location()
        names = SPLIT_FILES[split]
        present = [n for n in names if (folder / n).is_file()]
        if not present:
            raise MissingDataError(
                f"imagenet32: missing {', '.join(names)} in {folder}. Get Imagenet32_"
                f"{'train' if split == 'train' else 'val'}_npz.zip from {self.source} and unzip it there."
            )
        images, labels, total = [], [], 0
        for name in present:  # a partial download of the train batches is usable as is
            x, y = read_npz(folder / name)
            images.append(x)
            labels.append(y)
            total += len(x)
            if self.config.limit is not None and total >= self.config.limit:
                break
        x_all = np.concatenate(images)[: self.config.limit]
        y_all = np.concatenate(labels)[: self.config.limit]
        return ImageData(torch.from_numpy(x_all), torch.from_numpy(y_all), (),
                         {"files": present, "missing_files": [n for n in names if n not in present]})


def imagenet32(config: ImageNet32Config | None, *, root: Path) -> ImageNet32:
    """Factory of the ``imagenet32`` dataset."""
    return ImageNet32(config or ImageNet32Config(), root=root)
