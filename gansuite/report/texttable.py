"""A plain aligned text table (torch-free; shared by the CLI and the evaluation host)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["text_table", "result_rows_table", "CORE_COLUMNS"]


def text_table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """Rows under a header line and a dashed rule, columns padded to their widest cell."""
    cells = [list(headers), *([str(c) for c in r] for r in rows)]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


CORE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("eval", "eval", ""), ("metric", "metric", ""), ("variant", "variant", ""), ("value", "value", ""),
    ("ci95", "+-", ""),
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
