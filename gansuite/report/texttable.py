"""gansuite's one table renderer: aligned text or markdown (torch- and pandas-free at import;
shared by the CLI, the evaluation host, results, benchmarks and docs/benchmarks.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["text_table", "markdown_table", "frame_table", "cell_text", "result_rows_table", "CORE_COLUMNS"]


def text_table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """Rows under a header line and a dashed rule, columns padded to their widest cell."""
    cells = [list(headers), *([str(c) for c in r] for r in rows)]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """The same rows as a GitHub-flavoured markdown table (``|`` in cells escaped)."""

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), "|" + "|".join("---" for _ in headers) + "|", *(line(r) for r in rows)])


def cell_text(value: Any, float_format: str = ".6g") -> str:
    """A cell as text: ``None`` and NaN empty, floats through ``float_format``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return format(value, float_format)
    return str(value)


def frame_table(frame: Any, *, markdown: bool = False, float_format: str = ".6g") -> str:
    """A pandas DataFrame (its columns, no index) through :func:`text_table` or :func:`markdown_table`."""
    rows = [[cell_text(v, float_format) for v in row] for row in frame.itertuples(index=False)]
    return (markdown_table if markdown else text_table)(rows, [str(c) for c in frame.columns])


CORE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("eval", "eval", ""), ("metric", "metric", ""), ("variant", "variant", ""), ("value", "value", ""),
    ("ci95", "+-", ""), ("note", "note", ""),
)
TIME_COLUMNS: tuple[tuple[str, str, str], ...] = (("eval_seconds", "eval_s", ".1f"),)


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if fmt:
        return format(value, fmt)
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"


def result_rows_table(rows: Sequence[Mapping[str, Any]], catalog: Any = None) -> str:
    """Result rows as a text table: the core columns, then the detail columns each row's probe
    declares (``ProbeSpec.columns``), then the eval time; columns no row fills are left out."""
    declared: list[tuple[str, str, str]] = []
    registry = catalog.registry("probes") if catalog is not None else None
    for name in dict.fromkeys(str(r.get("probe", "")) for r in rows):
        if registry is not None and name in registry:
            declared += [c for c in registry.get(name).columns if c not in declared]
    columns = [*CORE_COLUMNS, *declared, *TIME_COLUMNS]
    used = [c for c in columns if any(r.get(c[0]) not in (None, "") for r in rows)]
    body = [[_cell(r.get(key), fmt) for key, _, fmt in used] for r in rows]
    return text_table(body, [head for _, head, _ in used])
