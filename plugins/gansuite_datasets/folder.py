"""Image files on disk: ``imagefolder`` (any folder tree) and ``lsun`` (the released LMDBs)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gansuite import CorruptDataError, DataError, ImageData, MissingDataError
from gansuite_datasets.common import BaseDataset, resize_crop_pil
from gansuite_datasets.config import ImageFolderConfig, LsunConfig

__all__ = ["ImageFolder", "Lsun", "imagefolder", "lsun", "EXTENSIONS", "list_images"]

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")


def list_images(folder: Path) -> list[Path]:
    """Every image file under ``folder``, sorted by relative path (the dataset's order)."""
    files = [p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def _decode(blob: bytes | Path, name: str, size: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(blob) if isinstance(blob, bytes) else blob) as img:
            img.load()
            out = resize_crop_pil(img, size)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorruptDataError(f"{name} is not a readable image ({type(exc).__name__}: {exc}).") from None
    return np.asarray(out, dtype=np.uint8).transpose(2, 0, 1)


def _decode_all(items: Iterable[tuple[str, bytes | Path]], total: int | None, size: int, desc: str) -> torch.Tensor:
    from tqdm.auto import tqdm

    bar = tqdm(items, total=total, desc=desc, unit="img", file=sys.stderr, disable=not sys.stderr.isatty())
    arrays = [_decode(blob, name, size) for name, blob in bar]
    if not arrays:
        return torch.empty((0, 3, size, size), dtype=torch.uint8)
    return torch.from_numpy(np.stack(arrays))


class ImageFolder(BaseDataset):
    """A folder tree of images; class = first-level subfolder when every image sits in one."""

    name = "imagefolder"
    splits = ("train",)
    source = "your own folder of images"
    license = "that of your images"

    def __init__(self, config: ImageFolderConfig, *, root: Path) -> None:
        super().__init__(config, root=root)

    def location(self) -> Path:
        path = Path(self.config.path).expanduser()
        return path if path.is_absolute() else self.root / path

    def files(self) -> list[Path]:
        folder = self.location()
        if not folder.is_dir():
            raise MissingDataError(
                f"imagefolder: {folder} does not exist; pass -o path=DIR (absolute or relative to "
                "--data-root) naming a folder of images (.png, .jpg, ...)."
            )
        files = list_images(folder)
        if not files:
            raise MissingDataError(f"imagefolder: no image files ({', '.join(EXTENSIONS)}) under {folder}.")
        return files

    def _load(self, split: str, image_size: int | None) -> ImageData:
        folder = self.location()
        files = self.files()
        size = image_size or self.config.size
        images = _decode_all(((str(p), p) for p in files), len(files), size, "reading images")
        rel = [p.relative_to(folder).parts for p in files]
        labels, classes = None, ()
        if all(len(parts) >= 2 for parts in rel):
            classes = tuple(sorted({parts[0] for parts in rel}))
            index = {c: i for i, c in enumerate(classes)}
            labels = torch.tensor([index[parts[0]] for parts in rel], dtype=torch.int64)
        return ImageData(images, labels, classes, {"files": ["/".join(parts) for parts in rel]})

    def info(self) -> dict[str, Any]:
        return {**super().info(), "order": "sorted relative paths", "resize": "shorter side, then center crop"}


class Lsun(BaseDataset):
    """One LSUN scene category as released: an LMDB mapping image keys to webp/jpeg bytes."""

    name = "lsun"
    splits = ("train", "val")
    source = "https://github.com/fyu/lsun (download.py -c CATEGORY)"
    license = "research use; see the LSUN terms (Yu et al. 2015)"

    def __init__(self, config: LsunConfig, *, root: Path) -> None:
        super().__init__(config, root=root)

    def location(self) -> Path:
        return self.root / "lsun"

    def expected_files(self) -> list[str]:
        return [f"{self.config.category}_{s}_lmdb/data.mdb" for s in self.splits]

    def _open(self, split: str) -> Any:
        try:
            import lmdb
        except ImportError:
            raise DataError(
                "The lsun dataset reads LMDB files and needs the optional 'lmdb' package: "
                "pip install 'gansuite[lsun]' (or pip install lmdb)."
            ) from None
        path = self.location() / f"{self.config.category}_{split}_lmdb"
        if not (path / "data.mdb").is_file():
            raise MissingDataError(
                f"lsun: missing {path / 'data.mdb'}. Get it with 'python download.py -c "
                f"{self.config.category}' from {self.source} and unzip it into {self.location()}."
            )
        try:
            return lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False,
                             max_readers=1)
        except lmdb.Error as exc:
            raise CorruptDataError(f"{path} is not a readable LMDB ({exc}).") from None

    def _records(self, env: Any, path: str) -> Iterator[tuple[str, bytes]]:
        import lmdb

        limit = self.config.limit
        try:
            with env.begin(write=False) as txn:
                for i, (key, value) in enumerate(txn.cursor()):
                    if limit is not None and i >= limit:
                        break
                    yield f"{path} key {key.decode(errors='replace')}", bytes(value)
        except lmdb.Error as exc:
            raise CorruptDataError(f"{path} could not be read ({exc}).") from None

    def _load(self, split: str, image_size: int | None) -> ImageData:
        env = self._open(split)
        try:
            total = env.stat()["entries"]
            if self.config.limit is not None:
                total = min(total, self.config.limit)
            path = str(self.location() / f"{self.config.category}_{split}_lmdb")
            images = _decode_all(self._records(env, path), total, image_size or self.config.size,
                                 f"reading {self.config.category}")
        finally:
            env.close()
        return ImageData(images, None, (), {"category": self.config.category})


def imagefolder(config: ImageFolderConfig | None, *, root: Path) -> ImageFolder:
    """Factory of the ``imagefolder`` dataset."""
    return ImageFolder(config or ImageFolderConfig(), root=root)


def lsun(config: LsunConfig | None, *, root: Path) -> Lsun:
    """Factory of the ``lsun`` dataset."""
    return Lsun(config or LsunConfig(), root=root)
