"""The reference dataset plugins: fake, digits, cifar10, svhn, imagefolder, lsun, imagenet32.

Import-cheap: only specs and torch-free config dataclasses live here; each factory is a
``"module:function"`` string imported when the dataset is used.
"""

from __future__ import annotations

from collections.abc import Callable

from gansuite.hookspecs import hookimpl
from gansuite.specs import DatasetSpec
from gansuite_datasets.config import Cifar10Config, DigitsConfig, FakeConfig

__all__ = ["register_datasets", "SPECS"]

SPECS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        name="fake",
        summary="Seeded random uint8 images with random labels; needs no files (smoke tests).",
        factory="gansuite_datasets.synthetic:fake",
        config=FakeConfig,
        splits=("train", "test"),
        image_size=32,
        channels=3,
        num_classes=10,
        license="none (synthetic)",
        source="generated",
        tags=("synthetic", "offline"),
    ),
    DatasetSpec(
        name="digits",
        summary="scikit-learn's bundled 8x8 handwritten digits upscaled to 32x32 RGB; works offline.",
        factory="gansuite_datasets.synthetic:digits",
        config=DigitsConfig,
        splits=("train", "test"),
        image_size=32,
        channels=3,
        num_classes=10,
        license="CC BY 4.0",
        source="sklearn.datasets.load_digits",
        tags=("offline", "default"),
        notes=("1,797 images; a fixed seeded 80/20 train/test split (1,438 / 359).",),
    ),
    DatasetSpec(
        name="cifar10",
        summary="CIFAR-10: 50,000/10,000 32x32 RGB images in 10 classes (python-pickle layout).",
        factory="gansuite_datasets.cifar:cifar10",
        config=Cifar10Config,
        splits=("train", "test"),
        image_size=32,
        channels=3,
        num_classes=10,
        license="no explicit licence (Krizhevsky 2009)",
        source="https://www.cs.toronto.edu/~kriz/cifar.html",
        paper="Krizhevsky (2009), Learning Multiple Layers of Features from Tiny Images",
        notes=("Expects ROOT/cifar-10-batches-py (torchvision's layout); md5s verified.",),
    ),
)


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register every reference dataset."""
    for spec in SPECS:
        register(spec)
