"""Small helpers shared by the command modules (torch-free)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gansuite.plugins import Catalog, get_catalog

__all__ = ["load_catalog", "echo_json", "table"]


def load_catalog() -> Catalog:
    """The catalog, with every plugin failure reported as one warning line on stderr."""
    catalog = get_catalog()
    for line in catalog.errors():
        click.echo(f"Warning: {line}", err=True)
    return catalog


def echo_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain aligned text table."""
    cells = [headers, *rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
