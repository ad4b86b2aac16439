"""CIFAR-10 in the official python-pickle layout (``ROOT/cifar-10-batches-py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from gansuite import CorruptDataError, ImageData, Verification, load_data_pickle
from gansuite_datasets.common import BaseDataset, missing_files_error, online, verify_md5
from gansuite_datasets.config import Cifar10Config

__all__ = ["Cifar10", "cifar10", "MD5", "URL", "read_batch"]

FOLDER = "cifar-10-batches-py"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
# The official md5 sums (as listed by torchvision.datasets.CIFAR10).
MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
SPLIT_FILES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _unpickle(path: Path) -> dict[Any, Any]:
    """A batch or meta file, read with only the types the format holds (no code runs)."""
    obj = load_data_pickle(path, "CIFAR")
    if not isinstance(obj, dict):
        raise CorruptDataError(f"{path} does not hold a CIFAR batch dictionary; download it again.")
    return obj


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> uint8 ``(N, 3, 32, 32)`` and int64 labels."""
    batch = _unpickle(path)
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch.get("labels", batch.get("fine_labels")), dtype=np.int64)
        images = data.reshape(-1, 3, 32, 32)
    except (KeyError, ValueError, TypeError) as exc:
        raise CorruptDataError(
            f"{path} has an unexpected layout ({exc}); expected 'data' N x 3072 uint8 and 'labels'."
        ) from None
    if len(labels) != len(images):
        raise CorruptDataError(f"{path} holds {len(images)} images but {len(labels)} labels.")
    return images, labels


class Cifar10(BaseDataset):
    """The 60,000 32x32 CIFAR-10 images (50,000 train / 10,000 test), read into one tensor."""

    name = "cifar10"
    splits = ("train", "test")
    source = URL
    license = "no explicit licence; cite Krizhevsky (2009), Learning Multiple Layers of Features"

    def __init__(self, config: Cifar10Config, *, root: Path) -> None:
        super().__init__(config, root=root)

    def location(self) -> Path:
        """``ROOT/cifar-10-batches-py`` (or ``ROOT/cifar10/cifar-10-batches-py`` when that exists)."""
        for candidate in (self.root / FOLDER, self.root / "cifar10" / FOLDER):
            if candidate.is_dir():
                return candidate
        return self.root / FOLDER

    def expected_files(self) -> tuple[str, ...]:
        return tuple(MD5)

    def _ensure(self, names: tuple[str, ...]) -> Path:
        folder = self.location()
        missing = [n for n in names if not (folder / n).is_file()]
        if missing and self.config.download and online(URL):
            from torchvision.datasets.utils import download_and_extract_archive

            download_and_extract_archive(URL, str(self.root), filename=URL.rsplit("/", 1)[1], md5=ARCHIVE_MD5)
            folder = self.location()
            missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise missing_files_error(self.name, folder, missing,
                                      f"Download {URL} and extract it into {self.root}")
        return folder

    def _load(self, split: str, image_size: int | None) -> ImageData:
        folder = self._ensure(SPLIT_FILES[split])
        parts = [read_batch(folder / name) for name in SPLIT_FILES[split]]
        images = torch.from_numpy(np.concatenate([p[0] for p in parts]))
        labels = torch.from_numpy(np.concatenate([p[1] for p in parts]))
        return ImageData(images, labels, self._classes(folder), {"files": list(SPLIT_FILES[split])})

    def _classes(self, folder: Path) -> tuple[str, ...]:
        meta = folder / "batches.meta"
        if not meta.is_file():
            return CLASSES
        names = _unpickle(meta).get("label_names")
        if not isinstance(names, (list, tuple)) or not names:
            return CLASSES
        return tuple(n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names)

    def verify(self) -> Verification:
        """The md5 check; where a ``provenance_flags.npz`` lies beside the batches (a rebuilt copy
        records there which images are not the original pixels), its counts join the detail."""
        result = verify_md5(self.location(), MD5)
        note = provenance_note(self.location())
        if note:
            result = Verification(result.verified, result.checked, result.mismatched, f"{result.detail}; {note}")
        return result


def provenance_note(folder: Path) -> str:
    """What ``provenance_flags.npz`` (next to or above ``folder``) says about the copy, or ''."""
    for path in (folder / "provenance_flags.npz", folder.parent / "provenance_flags.npz"):
        if path.is_file():
            try:
                with np.load(path) as flags:
                    parts = [f"{int((np.asarray(flags[k]) == 0).sum()):,} of {flags[k].size:,} {k.split('_')[0]} images"
                             for k in ("train_lossless", "test_lossless") if k in flags]
            except (OSError, ValueError, KeyError) as exc:
                return f"{path.name} unreadable ({type(exc).__name__})"
            return ("a rebuilt copy (" + path.name + "): " + " and ".join(parts) +
                    " are lossy (JPEG) decodes, not the original pixels") if parts else ""
    return ""


def cifar10(config: Cifar10Config | None, *, root: Path) -> Cifar10:
    """Factory of the ``cifar10`` dataset."""
    return Cifar10(config or Cifar10Config(), root=root)
