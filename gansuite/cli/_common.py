"""Small helpers shared by the command modules (torch-free)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gansuite._host.manager import Catalog, get_catalog
from gansuite.report.texttable import text_table

__all__ = ["load_catalog", "echo_json", "table", "FiniteFloat", "FINITE", "FINITE_OR_INF"]


class FiniteFloat(click.ParamType):
    """A float option that refuses NaN (and Inf unless ``allow_inf``): every float the CLI takes."""

    name = "float"

    def __init__(self, allow_inf: bool = False) -> None:
        self.allow_inf = allow_inf

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number.", param, ctx)
        if number != number or (number in (float("inf"), float("-inf")) and not self.allow_inf):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


FINITE = FiniteFloat()
FINITE_OR_INF = FiniteFloat(allow_inf=True)


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
