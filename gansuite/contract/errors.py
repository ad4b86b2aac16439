"""The exception hierarchy of gansuite.

The library raises these; the CLI turns every :class:`GansuiteError` into one line on stderr
and exit status 2, in one place (``gansuite.cli``). Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

__all__ = [
    "GansuiteError",
    "RegistryError",
    "UnknownNameError",
    "DuplicateNameError",
    "InvalidNameError",
    "OptionError",
    "PluginError",
    "DataError",
    "MissingDataError",
    "CorruptDataError",
    "IntegrityError",
    "RunError",
    "DivergenceError",
    "CheckpointError",
    "InterruptedRunError",
    "SignalInterrupt",
]


class GansuiteError(Exception):
    """Base class: a failure the user can act on. The message says what happened and what to do."""

    exit_code = 2


class RegistryError(GansuiteError):
    """Problems with registered names."""


class UnknownNameError(RegistryError):
    """A name that no plugin registered."""


class DuplicateNameError(RegistryError):
    """Two plugins registered the same name."""


class InvalidNameError(RegistryError):
    """A name that is not lowercase kebab-case."""


class OptionError(GansuiteError):
    """A bad, malformed or conflicting option. May hold several lines, one per bad field."""


class PluginError(GansuiteError):
    """A plugin that failed to import or registered something invalid."""


class DataError(GansuiteError):
    """Problems with a dataset on disk."""


class MissingDataError(DataError):
    """Expected files are absent; the message names them and where to get them."""


class CorruptDataError(DataError):
    """A file exists but cannot be read (truncated, wrong format)."""


class IntegrityError(DataError):
    """A checksum mismatch the user has not accepted with ``--allow-unverified``."""


class RunError(GansuiteError):
    """A run that cannot start or continue."""


class DivergenceError(RunError):
    """A loss became NaN or Inf; the last good checkpoint is kept."""


class CheckpointError(RunError):
    """A checkpoint or run folder that cannot be read or resumed."""


class InterruptedRunError(RunError):
    """Ctrl-C or SIGTERM stopped training; a checkpoint of the last finished step was written."""


class SignalInterrupt(KeyboardInterrupt):
    """Raised by gansuite's signal handlers for SIGINT, SIGTERM and SIGHUP (outside the training
    loop, which stops gracefully instead): a stop the user asked for, unlike a KeyboardInterrupt
    that plugin code raises by itself."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
