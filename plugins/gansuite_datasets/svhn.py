"""SVHN cropped digits in the official ``.mat`` format (``ROOT/svhn/{split}_32x32.mat``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gansuite import CorruptDataError, ImageData, Verification
from gansuite_datasets.common import BaseDataset, missing_files_error, online, verify_md5
from gansuite_datasets.config import SvhnConfig

__all__ = ["Svhn", "svhn", "MD5", "URL", "read_mat"]

URL = "http://ufldl.stanford.edu/housenumbers/"
# The official md5 sums (as listed by torchvision.datasets.SVHN).
MD5 = {
    "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
    "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
    "extra_32x32.mat": "a93ce644f1a588dc4d68dda5feec44a7",
}


def read_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (H x W x C x N uint8) and ``y`` (N x 1, label 10 = digit 0) -> NCHW images, labels 0-9."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
        x, y = mat["X"], mat["y"]
    except Exception as exc:  # truncated file, not a MATLAB file, missing variables
        raise CorruptDataError(
            f"{path} is not a readable SVHN .mat file ({type(exc).__name__}: {exc}); download it again."
        ) from None
    if x.ndim != 4 or x.shape[2] != 3:
        raise CorruptDataError(f"{path}: X has shape {x.shape}, expected 32 x 32 x 3 x N.")
    labels = np.asarray(y, dtype=np.int64).reshape(-1)
    if len(labels) != x.shape[3]:
        raise CorruptDataError(f"{path} holds {x.shape[3]} images but {len(labels)} labels.")
    labels[labels == 10] = 0
    return np.ascontiguousarray(np.transpose(x, (3, 2, 0, 1)), dtype=np.uint8), labels


class Svhn(BaseDataset):
    """Street View House Numbers, format 2 (32x32 crops): train 73,257, test 26,032, extra 531,131."""

    name = "svhn"
    splits = ("train", "test", "extra")
    source = "http://ufldl.stanford.edu/housenumbers/"
    license = "non-commercial use only (Netzer et al. 2011)"

    def __init__(self, config: SvhnConfig, *, root: Path) -> None:
        super().__init__(config, root=root)

    def location(self) -> Path:
        """``ROOT/svhn``, or ``ROOT`` itself when the .mat files lie there (torchvision's layout)."""
        folder = self.root / "svhn"
        if not folder.is_dir() and any((self.root / name).is_file() for name in MD5):
            return self.root
        return folder

    def expected_files(self) -> tuple[str, ...]:
        return tuple(MD5)

    def _ensure(self, filename: str) -> Path:
        path = self.location() / filename
        if not path.is_file() and self.config.download and online(URL):
            from torchvision.datasets.utils import download_url

            download_url(URL + filename, str(self.location()), filename, MD5[filename])
        if not path.is_file():
            raise missing_files_error(self.name, path.parent, [filename],
                                      f"Download {URL + filename} into {path.parent}")
        return path

    def _load(self, split: str, image_size: int | None) -> ImageData:
        images, labels = read_mat(self._ensure(f"{split}_32x32.mat"))
        classes = tuple(str(i) for i in range(10))
        return ImageData(torch.from_numpy(images), torch.from_numpy(labels), classes,
                         {"files": [f"{split}_32x32.mat"]})

    def verify(self) -> Verification:
        return verify_md5(self.location(), MD5)


def svhn(config: SvhnConfig | None, *, root: Path) -> Svhn:
    """Factory of the ``svhn`` dataset."""
    return Svhn(config or SvhnConfig(), root=root)
