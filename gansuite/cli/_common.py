"""Small helpers shared by the command modules (torch-free)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gansuite.plugin.manager import Catalog, get_catalog
from gansuite.report.texttable import text_table

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
    return text_table(rows, headers)
