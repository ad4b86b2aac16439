"""Graceful stops: SIGINT (Ctrl-C), SIGTERM and SIGHUP are one and the same request to stop.

Inside the training loop (:func:`deferred_stop`) the first signal asks the loop to stop: it
finishes the step it is in, writes a checkpoint and returns, so an interrupted run loses nothing
and resumes exactly; a second signal interrupts at once. Anywhere else (start-up, evals) the
CLI's :func:`stop_signals` turns each of them into :class:`SignalInterrupt`, which the CLI
reports as one line, exit status 2. A signal the parent set to be ignored (``nohup``) stays
ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gansuite.contract.errors import SignalInterrupt

__all__ = ["StopRequest", "deferred_stop", "stop_signals", "STOP_SIGNALS"]

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class StopRequest:
    """Set by the signal handler; read by the loop between steps."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""


@contextmanager
def _handlers(handler: Any) -> Iterator[None]:
    """``handler`` for every stop signal not set to be ignored (main thread only), then restore."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    for sig in STOP_SIGNALS:
        current = signal.getsignal(sig)
        if current is signal.SIG_IGN:
            continue
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise SignalInterrupt(signal.Signals(signum).name)


@contextmanager
def stop_signals() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise :class:`SignalInterrupt`."""
    with _handlers(_raise_interrupt):
        yield


@contextmanager
def deferred_stop() -> Iterator[StopRequest]:
    """Within the block, SIGINT/SIGTERM/SIGHUP set ``requested`` instead of raising (main thread only)."""
    stop = StopRequest()

    def handler(signum: int, frame: Any) -> None:
        if stop.requested:  # a second signal: stop now
            raise SignalInterrupt(signal.Signals(signum).name)
        stop.requested = True
        stop.signal_name = signal.Signals(signum).name

    with _handlers(handler):
        yield stop
