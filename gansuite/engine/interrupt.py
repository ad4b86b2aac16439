"""Graceful stops: the first Ctrl-C (SIGINT) or SIGTERM asks the training loop to stop.

The loop finishes the step it is in, writes a checkpoint and returns, so an interrupted run
loses nothing and resumes exactly. A second signal interrupts at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["StopRequest", "deferred_stop"]


class StopRequest:
    """Set by the signal handler; read by the loop between steps."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""


@contextmanager
def deferred_stop() -> Iterator[StopRequest]:
    """Within the block, SIGINT/SIGTERM set ``requested`` instead of raising (main thread only)."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous: dict[signal.Signals, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        if stop.requested:  # a second signal: stop now
            raise KeyboardInterrupt
        stop.requested = True
        stop.signal_name = signal.Signals(signum).name

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
