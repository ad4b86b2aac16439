"""The one progress bar of gansuite (training, feature extraction, dedup, decoding).

One rule decides whether it shows: the caller enables it (``--no-progress`` disables it, and
only the main process of a distributed run enables it) and stderr is a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["progress"]


def progress(iterable: Iterable[Any] | None = None, *, total: float | None = None, desc: str = "",
             unit: str = "it", enabled: bool = True, initial: int = 0, leave: bool = False) -> Any:
    """A tqdm bar on stderr (a context manager and, given ``iterable``, an iterator);
    ``total=None`` or infinite: no known end."""
    from tqdm import tqdm

    known = total is not None and total != float("inf")
    return tqdm(iterable, total=int(total) if known else None, desc=desc or None, unit=unit,  # type: ignore[arg-type]
                initial=initial, leave=leave, file=sys.stderr, dynamic_ncols=True,
                disable=not enabled or not sys.stderr.isatty())
