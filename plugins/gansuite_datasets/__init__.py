"""The reference dataset plugins: fake, digits, cifar10, svhn, imagefolder, lsun, imagenet32.

Import-cheap: only specs and torch-free config dataclasses live here; each factory is a
``"module:function"`` string imported when the dataset is used.
"""

from __future__ import annotations

from collections.abc import Callable

from gansuite import DatasetSpec, hookimpl
from gansuite_datasets.config import (
    Cifar10Config,
    DigitsConfig,
    FakeConfig,
    ImageFolderConfig,
    ImageNet32Config,
    LsunConfig,
    SvhnConfig,
)

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
    DatasetSpec(
        name="svhn",
        summary="SVHN cropped digits: train 73,257 / test 26,032 / extra 531,131 (.mat format).",
        factory="gansuite_datasets.svhn:svhn",
        config=SvhnConfig,
        splits=("train", "test", "extra"),
        image_size=32,
        channels=3,
        num_classes=10,
        license="non-commercial use only",
        source="http://ufldl.stanford.edu/housenumbers/",
        paper="Netzer et al. (2011), Reading Digits in Natural Images with Unsupervised Feature Learning",
        notes=("Expects ROOT/svhn/{train,test,extra}_32x32.mat; label 10 is mapped to digit 0.",),
    ),
    DatasetSpec(
        name="imagefolder",
        summary="Any folder tree of images: shorter side resized, then center-cropped; "
        "class = subfolder when present.",
        factory="gansuite_datasets.folder:imagefolder",
        config=ImageFolderConfig,
        splits=("train",),
        image_size=64,
        channels=3,
        license="that of your images",
        source="-o path=DIR",
        notes=("Image order (and dedup indices) follow the sorted relative file paths.",),
    ),
    DatasetSpec(
        name="lsun",
        summary="An LSUN scene category (default bedroom) from the released LMDB; needs the 'lsun' extra.",
        factory="gansuite_datasets.folder:lsun",
        config=LsunConfig,
        splits=("train", "val"),
        image_size=64,
        channels=3,
        license="research use (LSUN terms)",
        source="https://github.com/fyu/lsun",
        paper="Yu et al. (2015), LSUN: Construction of a Large-scale Image Dataset",
        notes=("Expects ROOT/lsun/{category}_{split}_lmdb/data.mdb; -o limit=N reads the first N.",),
    ),
    DatasetSpec(
        name="imagenet32",
        summary="Downsampled ImageNet 32x32: 1.28M train / 50k val in 1,000 classes (npz batches).",
        factory="gansuite_datasets.imagenet32:imagenet32",
        config=ImageNet32Config,
        splits=("train", "val"),
        train_split="train",
        image_size=32,
        channels=3,
        num_classes=1000,
        license="ImageNet terms of access",
        source="https://image-net.org/download-images",
        paper="Chrabaszcz, Loshchilov, Hutter (2017), A Downsampled Variant of ImageNet",
        notes=("Expects ROOT/imagenet32/train_data_batch_1..10.npz and val_data.npz.",),
    ),
)


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register every reference dataset."""
    for spec in SPECS:
        register(spec)
