"""Helpers shared by the dataset plugins: resizing, checksums, missing-file messages."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gansuite import ImageData, MissingDataError, OptionError, Verification, center_crop_resize

__all__ = [
    "BaseDataset",
    "resize_crop_pil",
    "md5sum",
    "verify_md5",
    "missing_files_error",
    "online",
]


def resize_crop_pil(img: Any, size: int) -> Any:
    """A PIL image resized so its shorter side is ``size``, then center-cropped to a square."""
    from PIL import Image

    img = img.convert("RGB")
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=None)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """The hex md5 of a file."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_md5(folder: Path, expected: Mapping[str, str]) -> Verification:
    """Compare each existing file under ``folder`` with its official md5 (absent files are skipped)."""
    checked, mismatched = [], []
    for name, md5 in expected.items():
        path = folder / name
        if not path.is_file():
            continue
        checked.append(name)
        if md5sum(path) != md5:
            mismatched.append(name)
    if not checked:
        return Verification(None, detail=f"no files found under {folder}")
    verified = not mismatched
    detail = (
        f"{len(checked)} files match the official md5 sums"
        if verified
        else f"{len(mismatched)} of {len(checked)} files differ from the official md5 sums: "
        + ", ".join(mismatched)
    )
    return Verification(verified, checked=checked, mismatched=mismatched, detail=detail)


def missing_files_error(dataset: str, folder: Path, files: Iterable[str], how: str) -> MissingDataError:
    """One line: which files are missing, exactly where they should be, and how to get them."""
    names = list(files)
    return MissingDataError(
        f"{dataset}: missing {', '.join(names)} in {folder} (no download: offline or download=false). "
        f"{how}, or pass --data-root DIR naming the folder that holds them."
    )


def online(url: str, timeout: float = 3.0) -> bool:
    """Whether the host of ``url`` accepts a TCP connection within ``timeout`` seconds."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


class BaseDataset:
    """Common behaviour: split checking, resizing on load, default verify/info."""

    name = "dataset"
    splits: tuple[str, ...] = ("train",)
    source = ""
    license = ""

    def __init__(self, config: Any, *, root: Path) -> None:
        self.config = config
        self.root = Path(root)

    def _check_split(self, split: str) -> None:
        if split not in self.splits:
            raise OptionError(
                f"Dataset '{self.name}' has no split '{split}'; choose one of: {', '.join(self.splits)}."
            )

    def load(self, split: str, *, image_size: int | None = None) -> ImageData:
        """Read ``split`` into memory as uint8 ``NCHW``, resized to ``image_size`` if given."""
        self._check_split(split)
        data = self._load(split, image_size)
        if image_size is not None:
            data.images = center_crop_resize(data.images, image_size)
        data.meta.setdefault("split", split)
        data.meta.setdefault("dataset", self.name)
        return data

    def _load(self, split: str, image_size: int | None) -> ImageData:
        raise NotImplementedError

    def verify(self) -> Verification:
        return Verification(None, detail="the plugin lists no checksums for this dataset")

    def expected_files(self) -> Sequence[str]:
        return ()

    def location(self) -> Path | None:
        return None

    def info(self) -> dict[str, Any]:
        loc = self.location()
        return {
            "name": self.name,
            "splits": list(self.splits),
            "source": self.source,
            "license": self.license,
            "location": str(loc) if loc is not None else None,
            "expected_files": list(self.expected_files()),
        }
