"""Image helpers shared by the core and the plugins (torch and torchvision imported lazily).

- :func:`center_crop_resize`: uint8 ``NCHW`` images cropped to a centred square and resized.
- :func:`save_image_grid`: images tiled by ``torchvision.utils.make_grid`` into one PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gansuite.contract.files import atomic_write_bytes

if TYPE_CHECKING:
    import torch

__all__ = ["center_crop_resize", "save_image_grid"]


def center_crop_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` -> uint8 ``(N, C, size, size)``: the centred square of side
    ``min(H, W)``, resized bilinearly (antialiased when shrinking) by torchvision's uint8 kernel."""
    from torchvision.transforms.v2 import functional as TF

    h, w = images.shape[-2:]
    side = min(h, w)
    if (h, w) != (side, side):
        images = TF.center_crop(images, [side, side])
    if side != size:
        images = TF.resize(images, [size, size], antialias=True)
    return images.contiguous()


def save_image_grid(images: torch.Tensor, path: Path | str, nrow: int | None = None, padding: int = 2) -> Path:
    """Tile float ``[-1, 1]`` or uint8 images into one PNG (written atomically); ``nrow``: images
    per row, default the square root of their number."""
    import io
    import math

    from torchvision.utils import save_image

    x = images.detach().cpu()
    x = (x.float().clamp(-1, 1) + 1) / 2 if x.dtype.is_floating_point else x.float() / 255.0
    per_row = nrow or max(1, math.ceil(math.sqrt(len(x))))
    buffer = io.BytesIO()
    save_image(x, buffer, nrow=max(1, per_row), padding=padding, format="png")
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)
