"""Generated images made elsewhere: a folder of image files or an ``.npz`` / ``.npy`` array.

``read_images(path)`` returns the images as one uint8 ``(N, C, H, W)`` tensor and a record of
where they came from (the path, the file count and one sha256 over every file's relative path
and contents), which the run folder's ``config.json`` keeps.

- A folder: every ``.png``, ``.jpg``/``.jpeg``, ``.bmp`` and ``.webp`` file under it, at any depth,
  in sorted relative-path order. Greyscale files give one channel when every file is greyscale,
  else everything is read as RGB (alpha dropped). Files of different sizes (or non-square ones)
  are refused unless ``image_size`` is given: then each is resized so its shorter side is
  ``image_size`` and centre-cropped, as the ``imagefolder`` dataset does.
- An array: uint8, ``(N, H, W, C)`` or ``(N, C, H, W)`` with C 1 or 3, or ``(N, H, W)`` greyscale;
  an ``.npz`` holds one such array, or several with one named ``images``, ``samples``, ``x`` or
  ``arr_0``. Pickled objects are never loaded.

``read_labels(path)`` returns the samples' class labels where they carry them, in the same order:
a folder's first-level subfolder names (one subfolder per class), or an ``.npz``'s ``labels``
array (integers); None where they carry none.

Every failure is a :class:`~gansuite.contract.errors.DataError` of one line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gansuite.contract.errors import CorruptDataError, DataError, MissingDataError

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["IMAGE_EXTENSIONS", "ARRAY_KEYS", "SampleSource", "read_images", "read_labels", "file_sha256",
           "list_image_files"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
ARRAY_KEYS = ("images", "samples", "x", "arr_0")


@dataclass(frozen=True)
class SampleSource:
    """Where a set of images came from: recorded in ``config.json`` under ``sources``."""

    path: str
    kind: str  # "folder" | "npz" | "npy"
    n_files: int
    sha256: str
    resized_to: int | None = None

    def record(self) -> dict[str, Any]:
        return {"role": "samples", "path": self.path, "kind": self.kind, "files": self.n_files,
                "sha256": self.sha256, "resized_to": self.resized_to}


def file_sha256(path: Path) -> str:
    """sha256 of one file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_image_files(folder: Path) -> list[Path]:
    """Every image file under ``folder`` (any depth), sorted by relative path."""
    files = [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def read_images(path: Path | str, *, image_size: int | None = None,
                progress: bool = True) -> tuple[torch.Tensor, SampleSource]:
    """The images at ``path`` (a folder, ``.npz`` or ``.npy``) as uint8 ``(N, C, H, W)``."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path, image_size, progress)
    if not path.exists():
        raise MissingDataError(f"{path} does not exist; pass a folder of images or an .npz/.npy file.")
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".npy"):
        raise DataError(f"{path} is neither a folder nor an .npz/.npy array; pass a folder of images "
                        f"({', '.join(IMAGE_EXTENSIONS)}) or an array of uint8 images.")
    array = _load_array(path)
    images = _as_nchw(array, path, image_size is not None)
    if image_size is not None and images.shape[-2:] != (image_size, image_size):
        images = _resize_tensor(images, image_size)
    return images, SampleSource(str(path.resolve()), suffix[1:], 1, file_sha256(path),
                                image_size if image_size is not None else None)


def read_labels(path: Path | str) -> list[str] | torch.Tensor | None:
    """The class of each image :func:`read_images` reads from ``path``, in its order: a folder's
    first-level subfolder names (None when some image lies directly in the folder), an ``.npz``'s
    ``labels`` array as int64 (None without one)."""
    path = Path(path)
    if path.is_dir():
        parts = [p.relative_to(path).parts for p in list_image_files(path)]
        return [q[0] for q in parts] if parts and all(len(q) > 1 for q in parts) else None
    if path.suffix.lower() != ".npz":
        return None
    import numpy as np
    import torch

    with np.load(path, allow_pickle=False) as loaded:
        if "labels" not in loaded.files:
            return None
        try:
            labels = loaded["labels"]
        except ValueError:
            raise DataError(f"{path}: array 'labels' holds pickled objects; save plain integers.") from None
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(f"{path}: 'labels' is a {labels.dtype} array of shape {labels.shape}, not one integer "
                        "class index per image; save numpy.savez(path, images=x, labels=y) with y int64 (N,).")
    return torch.from_numpy(labels.astype(np.int64))


# -- folders ---------------------------------------------------------------------------------
def _read_folder(folder: Path, image_size: int | None, show: bool) -> tuple[torch.Tensor, SampleSource]:
    import numpy as np
    import torch

    from gansuite.contract.progress import progress

    files = list_image_files(folder)
    if not files:
        raise MissingDataError(f"{folder} holds no image files ({', '.join(IMAGE_EXTENSIONS)}) at any depth; "
                               "pass the folder the samples were written to.")
    digest = hashlib.sha256()
    out, first = [], None
    bar = progress(files, total=len(files), desc="reading samples", unit="img", enabled=show)
    for p in bar:
        rel = p.relative_to(folder).as_posix()
        digest.update(rel.encode() + b"\0" + file_sha256(p).encode() + b"\n")
        img = _open(p)
        if image_size is None:
            size = img.size
            if size[0] != size[1]:
                raise DataError(f"{p} is {size[0]}x{size[1]}, not square; pass --image-size N to resize and "
                                "centre-crop every image.")
            if first is None:
                first = (rel, size)
            elif size != first[1]:
                raise DataError(f"{folder} mixes image sizes ({first[0]} is {first[1][0]}x{first[1][1]}, {rel} is "
                                f"{size[0]}x{size[1]}); pass --image-size N to resize them all, or keep one "
                                "generator's samples per folder.")
        img = img.convert("L" if img.mode in ("L", "1", "I;16", "I") else "RGB")
        if image_size is not None:
            img = _resize_crop(img, image_size)
        a = np.asarray(img, dtype=np.uint8)
        out.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
    if any(a.shape[0] == 3 for a in out):  # greyscale files among colour ones: read as RGB
        out = [np.repeat(a, 3, axis=0) if a.shape[0] == 1 else a for a in out]
    images = torch.from_numpy(np.stack(out))
    return images, SampleSource(str(folder.resolve()), "folder", len(files), digest.hexdigest(), image_size)


def _open(path: Path) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorruptDataError(f"{path} is not a readable image ({type(exc).__name__}: {exc}); remove it "
                               "or replace it.") from None
    return img


def _resize_crop(img: Any, size: int) -> Any:
    from PIL import Image

    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


# -- arrays ----------------------------------------------------------------------------------
def _load_array(path: Path) -> np.ndarray:
    import numpy as np

    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{path} holds pickled objects ({exc}); save the images as a plain uint8 array "
                        "(numpy.save / numpy.savez).") from None
    except (OSError, EOFError) as exc:
        raise CorruptDataError(f"{path} is not a readable numpy file ({type(exc).__name__}: {exc}).") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        names = list(loaded.files)
        if not names:
            raise DataError(f"{path} holds no arrays; save the images with numpy.savez(path, images=x).")
        key = names[0] if len(names) == 1 else next((k for k in ARRAY_KEYS if k in names), None)
        if key is None:
            raise DataError(f"{path} holds several arrays ({', '.join(names)}) and none is named "
                            f"{', '.join(ARRAY_KEYS)}; save the images under one of those names.")
        try:
            return loaded[key]
        except ValueError as exc:
            raise DataError(f"{path}: array '{key}' holds pickled objects ({exc}); save a plain uint8 "
                            "array.") from None


def _as_nchw(array: np.ndarray, path: Path, resizing: bool) -> torch.Tensor:
    import numpy as np
    import torch

    if array.dtype != np.uint8:
        raise DataError(f"{path} holds {array.dtype} values, not uint8 images; convert them, e.g. "
                        "((x + 1) * 127.5).round().clip(0, 255).astype('uint8') for [-1, 1] floats.")
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[0] == 0:
        raise DataError(f"{path} holds an array of shape {array.shape}, not images (N, H, W, C) or "
                        "(N, C, H, W) with C 1 or 3.")
    if array.shape[-1] in (1, 3):
        array = array.transpose(0, 3, 1, 2)  # (N, H, W, C), numpy's usual layout; a tie reads as that too
    elif array.shape[1] not in (1, 3):
        raise DataError(f"{path} holds an array of shape {array.shape}: no axis of 1 or 3 channels "
                        "next to the images' height and width.")
    if array.shape[2] != array.shape[3] and not resizing:
        raise DataError(f"{path} holds {array.shape[2]}x{array.shape[3]} images, not square ones; pass "
                        "--image-size N to resize and centre-crop them.")
    return torch.from_numpy(np.ascontiguousarray(array))


def _resize_tensor(images: torch.Tensor, size: int) -> torch.Tensor:
    import numpy as np
    import torch
    from PIL import Image

    out = []
    for img in images:
        a = img.permute(1, 2, 0).numpy()
        pil = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)
        r = np.asarray(_resize_crop(pil, size), dtype=np.uint8)
        out.append(r[None] if r.ndim == 2 else r.transpose(2, 0, 1))
    return torch.from_numpy(np.stack(out))


def describe_sources(sources: Iterable[SampleSource]) -> list[dict[str, Any]]:
    """``config.json``'s records of ``sources``."""
    return [s.record() for s in sources]
