"""One generic registry per kind, with name checks and did-you-mean errors."""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterator
from typing import Generic, TypeVar

from gansuite.contract.errors import DuplicateNameError, InvalidNameError, UnknownNameError
from gansuite.contract.specs import Spec

__all__ = ["Registry", "NAME_RE", "check_name", "natural_key"]

NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
T = TypeVar("T", bound=Spec)


def check_name(name: str, kind: str) -> None:
    """Raise :class:`InvalidNameError` unless ``name`` is lowercase kebab-case."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidNameError(
            f"Invalid {kind} name {name!r}: names are lowercase kebab-case (e.g. 'dcgan-64')."
        )


def natural_key(name: str) -> list[object]:
    """Sort 'dcgan-2' before 'dcgan-10'."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _plugin_label(spec: Spec) -> str:
    info = spec.plugin
    if info is None:
        return "<unknown plugin>"
    return f"plugin '{info.name}' ({info.distribution} {info.version})"


class Registry(Generic[T]):
    """Specs of one kind by name. ``plural`` is the word used by ``gansuite list``."""

    def __init__(self, kind: str, plural: str) -> None:
        self.kind = kind
        self.plural = plural
        self._specs: dict[str, T] = {}

    def add(self, spec: T) -> None:
        """Record ``spec``; a name already taken raises an error naming both plugins."""
        check_name(spec.name, self.kind)
        if spec.name in self._specs:
            other = self._specs[spec.name]
            raise DuplicateNameError(
                f"{self.kind.capitalize()} '{spec.name}' is registered by both "
                f"{_plugin_label(other)} and {_plugin_label(spec)}; disable one with "
                "GANSUITE_DISABLE_PLUGINS."
            )
        self._specs[spec.name] = spec

    def get(self, name: str) -> T:
        """The spec called ``name``, or an :class:`UnknownNameError` with suggestions."""
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._specs), n=3, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        return f"Unknown {self.kind} '{name}'.{hint} Run 'gansuite list {self.plural}'."

    def names(self, pattern: str | None = None) -> list[str]:
        """Names (natural sort), filtered by an fnmatch ``pattern`` when given."""
        names = sorted(self._specs, key=natural_key)
        if pattern:
            names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        return names

    def specs(self, pattern: str | None = None) -> list[T]:
        return [self._specs[n] for n in self.names(pattern)]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[T]:
        return iter(self.specs())

    def __len__(self) -> int:
        return len(self._specs)
