"""A plain aligned text table (torch-free; shared by the CLI and the evaluation host)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["text_table"]


def text_table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """Rows under a header line and a dashed rule, columns padded to their widest cell."""
    cells = [list(headers), *([str(c) for c in r] for r in rows)]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
