"""Config dataclasses of the dataset plugins: the ``-o key=value`` options (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FakeConfig",
    "DigitsConfig",
    "Cifar10Config",
    "SvhnConfig",
    "ImageFolderConfig",
    "LsunConfig",
    "ImageNet32Config",
]


def _positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")


@dataclass(frozen=True)
class FakeConfig:
    """Seeded random uint8 images: a smoke-test dataset that needs no files.

    ``size`` is the native side length (a run still resizes to the model's image size).
    """

    n: int = 1024
    n_test: int = 256
    num_classes: int = 10
    seed: int = 0
    size: int = 32
    channels: int = 3

    def __post_init__(self) -> None:
        for name in ("n", "n_test", "num_classes", "size"):
            _positive(name, getattr(self, name))
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")


@dataclass(frozen=True)
class DigitsConfig:
    """scikit-learn's bundled 8x8 digits, upscaled to 32x32; a fixed seeded train/test split."""

    test_fraction: float = 0.2
    split_seed: int = 0
    channels: int = 3

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")


@dataclass(frozen=True)
class Cifar10Config:
    """CIFAR-10 in the python-pickle layout under ``ROOT/cifar-10-batches-py``."""

    download: bool = True


@dataclass(frozen=True)
class SvhnConfig:
    """SVHN cropped digits (``ROOT/svhn/{train,test,extra}_32x32.mat``)."""

    download: bool = True


@dataclass(frozen=True)
class ImageFolderConfig:
    """A folder tree of images: ``path`` (absolute, or relative to the data root).

    Images are resized so their shorter side is ``size`` and center-cropped to ``size`` x
    ``size`` (a run overrides ``size`` with the model's image size). A first-level subfolder
    is a class when every image sits in one.
    """

    path: str = "imagefolder"
    size: int = 64

    def __post_init__(self) -> None:
        _positive("size", self.size)


@dataclass(frozen=True)
class LsunConfig:
    """An LSUN category as released: ``ROOT/lsun/{category}_{split}_lmdb`` (needs ``lmdb``).

    ``limit`` caps the number of images read (in key order); ``size`` as for imagefolder.
    """

    category: str = "bedroom"
    limit: int | None = None
    size: int = 64

    def __post_init__(self) -> None:
        _positive("size", self.size)
        if self.limit is not None:
            _positive("limit", self.limit)
        if not self.category.replace("_", "").isalnum():
            raise ValueError(f"category must be a plain word such as 'bedroom', got {self.category!r}")


@dataclass(frozen=True)
class ImageNet32Config:
    """Downsampled ImageNet 32x32 (npz batches under ``ROOT/imagenet32``)."""

    folder: str = "imagenet32"
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.limit is not None:
            _positive("limit", self.limit)
