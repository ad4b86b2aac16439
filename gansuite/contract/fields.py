"""The option field of a config dataclass: what ``-o key=value`` sets and ``gansuite show`` lists.

::

    @dataclass(frozen=True)
    class MyConfig:
        width: int = option(64, "channels of the first conv")
        scale: float = option(float("inf"), "clip scale; inf: none", allow_nonfinite=True)

Importing this module imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

__all__ = ["option"]


def option(default: Any = dataclasses.MISSING, help: str = "", *,
           default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
           allow_nonfinite: bool = False) -> Any:
    """A dataclass field with ``default`` (or ``default_factory`` for a mutable one) and the
    ``help`` text ``gansuite show`` prints. Floats set from the command line must be finite
    unless ``allow_nonfinite`` (a NaN passes every range check written as ``x < 0``)."""
    metadata: dict[str, Any] = {"help": help}
    if allow_nonfinite:
        metadata["allow_nonfinite"] = True
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)
