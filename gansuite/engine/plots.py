"""The loss curve PNG of a run (matplotlib's object-oriented API, imported lazily; written
atomically). Sample grids: :func:`gansuite.contract.images.save_image_grid`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gansuite.engine.runfolder import atomic_write_bytes

__all__ = ["save_loss_curve"]


def save_loss_curve(rows: Sequence[dict[str, Any]], path: Path,
                    keys: Sequence[str] = ("loss_d", "loss_g"), title: str = "") -> Path:
    """Plot ``keys`` of metrics rows against ``step`` into a PNG."""

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
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
