"""PNG figures of a run: sample grids and loss curves (matplotlib with the Agg backend, lazily).

Files are written atomically, like everything else in a run folder.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gansuite.engine.runfolder import atomic_write_bytes

__all__ = ["image_grid", "save_image_grid", "save_loss_curve"]


def image_grid(images: Any, nrow: int | None = None, padding: int = 2) -> Any:
    """Tile ``(N, C, H, W)`` images (float in [-1, 1] or uint8) into one uint8 ``(H', W', C)`` array."""
    import torch

    x = images.detach().float().cpu()
    if images.dtype != torch.uint8:
        x = (x.clamp(-1, 1) + 1) * 127.5
    x = x.round().to(torch.uint8)
    n, c, h, w = x.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    grid = torch.zeros((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = x[i]
    return grid.permute(1, 2, 0).numpy()


def save_image_grid(images: Any, path: Path, nrow: int | None = None) -> Path:
    """Write ``images`` as one PNG grid."""
    from PIL import Image

    arr = image_grid(images, nrow)
    img = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def save_loss_curve(rows: Sequence[dict[str, Any]], path: Path,
                    keys: Sequence[str] = ("loss_d", "loss_g"), title: str = "") -> Path:
    """Plot ``keys`` of metrics rows against ``step`` into a PNG."""

    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    for key in keys:
        pts = [(r["step"], r[key]) for r in rows if key in r and r[key] is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)
