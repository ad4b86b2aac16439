"""Atomic file writes: a temporary file in the same folder, fsync, rename.

A kill at any moment leaves either the old or the new file, never a torn one. Public (``from
gansuite import atomic_write_bytes``) so plugins write their caches and figures the same way.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_json", "file_mode", "default_cache_dir",
           "default_data_root"]

_MODE: int | None = None


def file_mode() -> int:
    """The mode a plain ``open()`` would give a new file: 0o666 less the process umask (temp files
    start at 0o600, and a run's files are the user's like any other)."""
    global _MODE
    if _MODE is None:
        mask = None
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("Umask:"):
                        mask = int(line.split()[1], 8)
        except (OSError, ValueError):
            pass
        if mask is None:  # no procfs: read the umask by setting it (once per process)
            mask = os.umask(0o022)
            os.umask(mask)
        _MODE = 0o666 & ~mask
    return _MODE


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Write ``path`` atomically: ``write(fileobj)`` fills a temp file that replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            os.fchmod(fh.fileno(), file_mode())
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data), mode="wb")


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda fh: json.dump(obj, fh, indent=2, sort_keys=False, default=str))


def _user_cache(name: str) -> Path:
    """``$XDG_CACHE_HOME/gansuite/NAME`` (``~/.cache`` when XDG_CACHE_HOME is unset)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "gansuite" / name


def default_cache_dir() -> Path:
    """Where trained dedup models and reference statistics are cached: ``$GANSUITE_CACHE`` or
    the user cache folder."""
    env = os.environ.get("GANSUITE_CACHE")
    return Path(env).expanduser() if env else _user_cache("cache")


def default_data_root(explicit: Path | None = None) -> Path:
    """``--data-root``, else ``$GANSUITE_DATA``, else the user cache folder."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get("GANSUITE_DATA")
    return Path(env).expanduser() if env else _user_cache("data")
