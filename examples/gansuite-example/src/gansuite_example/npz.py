"""``npz-images``: images in one NumPy ``.npz`` file per split (``ROOT/PATH/SPLIT.npz``).

Each file holds ``images``, uint8 ``(N, H, W, C)``, and optionally ``labels``, integers ``(N,)``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gansuite import CorruptDataError, ImageData, MissingDataError, Verification


class NpzImages:
    """A dataset read from ``.npz`` files (an :class:`gansuite.ImageDataset`)."""

    splits = ("train", "test")

    def __init__(self, config, root: Path) -> None:
        self.folder = Path(root) / config.path

    def _file(self, split: str) -> Path:
        path = self.folder / f"{split}.npz"
        if not path.is_file():
            raise MissingDataError(f"npz-images: {path} is missing; write it with "
                                   "numpy.savez(path, images=uint8 NHWC array, labels=ints).")
        return path

    def load(self, split: str, *, image_size: int | None = None) -> ImageData:
        path = self._file(split)
        try:
            with np.load(path, allow_pickle=False) as npz:  # never unpickle: data must not run code
                images, labels = npz["images"], npz["labels"] if "labels" in npz.files else None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise CorruptDataError(f"npz-images: cannot read {path}: {exc}.") from None
        if images.dtype != np.uint8 or images.ndim != 4:
            raise CorruptDataError(f"npz-images: {path}: 'images' must be uint8 (N, H, W, C), "
                                   f"got {images.dtype} {images.shape}.")
        x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
        if image_size is not None and x.shape[-1] != image_size:
            x = F.interpolate(x.float(), size=(image_size, image_size), mode="bilinear", antialias=True,
                              align_corners=False).round().clamp(0, 255).to(torch.uint8)
        y = None if labels is None else torch.from_numpy(labels.astype(np.int64))
        return ImageData(x, y)

    def verify(self) -> Verification:
        return Verification(None, detail="npz-images has no official checksums")

    def info(self) -> dict:
        return {"folder": str(self.folder), "format": "one .npz per split: images uint8 NHWC, labels"}


def build(config, *, root: Path) -> NpzImages:
    """The factory named in the DatasetSpec."""
    return NpzImages(config, root)
