"""One writer per run folder: an advisory lock on ``RUN_DIR/.lock``.

``gansuite run`` (new, ``--resume`` or ``--restart``) and ``gansuite eval`` hold it while they
write. The lock is ``fcntl.flock`` on the file, so the kernel releases it when its holder exits
in any way (a SIGKILL included): a ``.lock`` file left behind by a killed process is stale and
is simply taken over. The file records the holder (pid, host, command, since) so that a second
writer is told who is writing.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from gansuite.contract.errors import RunError

__all__ = ["RunLock", "LOCK_NAME", "RunLockedError"]

LOCK_NAME = ".lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking
    fcntl = None  # type: ignore[assignment]


class RunLockedError(RunError):
    """Another process is writing the run folder."""


def _holder_text(info: dict[str, Any]) -> str:
    if not info:
        return "another process"
    parts = [f"pid {info.get('pid', '?')}"]
    if info.get("host"):
        parts.append(f"on {info['host']}")
    text = " ".join(parts)
    if info.get("command"):
        text += f" ('{info['command']}'"
        text += f", since {info['since']})" if info.get("since") else ")"
    return text


class RunLock:
    """``with RunLock(run_dir, "gansuite run ..."):`` -- or :meth:`acquire` / :meth:`release`."""

    def __init__(self, run_dir: Path | str, command: str | None = None, what: str = "run folder") -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.what = what
        self.command = command if command is not None else " ".join(["gansuite", *sys.argv[1:]])[:300]
        self.stale: dict[str, Any] = {}
        self._fh: Any = None

    def read_holder(self) -> dict[str, Any]:
        try:
            info = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`RunLockedError` naming the holder (never waits)."""
        if fcntl is None or self._fh is not None:
            return self
        fh = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise RunLockedError(
                f"{self.path.parent} is being written by {_holder_text(self.read_holder())}; wait until it "
                f"finishes or stop it, then try again (one writer per {self.what}).") from None
        except OSError:  # a file system without locks: go on unlocked
            fh.close()
            return self
        self.stale = self.read_holder()  # written by a process that exited without releasing
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(info) + "\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        """Clear the holder record and unlock (the file stays: removing it would race)."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            fh.seek(0)
            fh.truncate()
            fh.flush()
        except OSError:
            pass
        finally:
            fh.close()  # closing the descriptor releases the flock

    def check_free(self) -> None:
        """Raise :class:`RunLockedError` when another process holds the lock (takes and drops it)."""
        if fcntl is None or self._fh is not None or not self.path.is_file():  # no file: nobody holds it
            return
        with open(self.path) as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunLockedError(
                    f"{self.path.parent} is being written by {_holder_text(self.read_holder())}; wait until it "
                    f"finishes or stop it, then try again (one writer per {self.what}).") from None
            except OSError:
                return

    @property
    def held(self) -> bool:
        return self._fh is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
