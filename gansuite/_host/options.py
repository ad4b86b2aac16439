"""Typed options: ``-o key=value`` pairs validated against a spec's config dataclass.

A key is either qualified by the registered name it targets (``-o dcgan.ngf=64``,
``-o svm.c_grid=0.01,0.1``) or bare (``-o ngf=64``), in which case it goes to the one config
that has a field of that name. Every bad field gives its own error line.

Floats are finite: ``nan``, ``inf`` and ``-inf`` are refused (a NaN passes every range check
written as ``x < 0``), unless the field declares ``metadata={"allow_nonfinite": True}``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from gansuite.contract.errors import OptionError
from gansuite.contract.specs import Spec

__all__ = ["parse_pairs", "coerce", "build_config", "split_overrides", "route_overrides", "build_configs", "describe_type", "config_dict"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_pairs(pairs: Sequence[str], *, flag: str = "-o", what: str = "option",
                example: str = "ngf=64") -> list[tuple[str, str]]:
    """``["a=1", "b.c=x"]`` -> ``[("a", "1"), ("b.c", "x")]``; malformed pairs are errors that
    name the command-line ``flag`` they came from (``-o``, ``--filter``)."""
    out, errors = [], []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            errors.append(f"Malformed {what} {pair!r}: use {flag} key=value (e.g. {flag} {example}).")
            continue
        out.append((key.strip(), value.strip()))
    if errors:
        raise OptionError("\n".join(errors))
    return out


def describe_type(tp: Any) -> str:
    """A short human name for a field type: ``int``, ``float | None``, ``one of a, b``."""
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(describe_type(a) for a in get_args(tp))
    if origin in (tuple, list):
        inner_args = [a for a in get_args(tp) if a is not Ellipsis]
        inner = describe_type(inner_args[0]) if inner_args else "str"
        return f"list of {inner} (comma-separated)"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def coerce(raw: str, tp: Any, *, allow_nonfinite: bool = False) -> Any:
    """Convert the string ``raw`` to type ``tp``; ``ValueError`` says why not. Floats must be
    finite unless ``allow_nonfinite``."""
    origin = get_origin(tp)
    if origin is Literal:
        choices = get_args(tp)
        for choice in choices:
            if str(choice) == raw:
                return choice
        raise ValueError(f"expected one of {', '.join(map(str, choices))}")
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if type(None) in args and raw.lower() in {"none", "null", ""}:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(raw, arg, allow_nonfinite=allow_nonfinite)
            except ValueError:
                continue
        raise ValueError(f"expected {describe_type(tp)}")
    if origin in (tuple, list):
        item_types: list[Any] = [a for a in get_args(tp) if a is not Ellipsis] or [str]
        items = [coerce(part.strip(), item_types[0], allow_nonfinite=allow_nonfinite)
                 for part in raw.split(",") if part.strip()]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("expected true or false")
    if tp is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError("expected an integer") from None
    if tp is float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("expected a number") from None
        if not allow_nonfinite and not math.isfinite(value):
            raise ValueError("expected a finite number")
        return value
    if tp is str:
        return raw
    raise ValueError(f"cannot set a field of type {describe_type(tp)} from the command line")


def _hints(cls: type) -> dict[str, Any]:
    module = typing.cast(Any, __import__(cls.__module__, fromlist=["_"]))
    return get_type_hints(cls, globalns=vars(module))


def build_config(spec: Spec, values: Mapping[str, Any]) -> Any:
    """The spec's config with ``values`` applied. Strings are coerced; typed values kept."""
    if spec.config is None:
        if values:
            raise OptionError(f"{spec.kind.capitalize()} '{spec.name}' takes no options.")
        return None
    hints = _hints(spec.config)
    fields = {f.name: f for f in dataclasses.fields(spec.config)}
    names = list(fields)
    kwargs, errors = {}, []
    for key, raw in values.items():
        if key not in hints or key not in names:
            import difflib

            close = difflib.get_close_matches(key, names, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            errors.append(
                f"Unknown option '{key}' for {spec.kind} '{spec.name}'.{hint} "
                f"Run 'gansuite show {spec.name}'."
            )
            continue
        allow = bool(fields[key].metadata.get("allow_nonfinite"))
        try:
            kwargs[key] = coerce(raw, hints[key], allow_nonfinite=allow) if isinstance(raw, str) else raw
            if not allow and _has_nonfinite(kwargs[key]):
                raise ValueError("expected a finite number")
        except ValueError as exc:
            errors.append(f"Bad value {raw!r} for {spec.name}.{key}: {exc}.")
    if errors:
        raise OptionError("\n".join(errors))
    try:
        return spec.config(**kwargs)
    except (TypeError, ValueError) as exc:  # __post_init__ range checks
        raise OptionError(f"Invalid options for {spec.kind} '{spec.name}': {exc}") from None


def _has_nonfinite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (tuple, list)):
        return any(_has_nonfinite(v) for v in value)
    return False


def split_overrides(pairs: Sequence[tuple[str, str]], specs: Sequence[Spec]) -> dict[str, dict[str, str]]:
    """Route each ``key=value`` to the spec it targets; returns ``{spec name: {field: raw}}``."""
    routed, errors = route_overrides(pairs, specs)
    if errors:
        raise OptionError("\n".join(errors))
    return routed


def route_overrides(
    pairs: Sequence[tuple[str, str]], specs: Sequence[Spec]
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Like :func:`split_overrides`, returning the error lines instead of raising."""
    by_name = {s.name: s for s in specs}
    routed: dict[str, dict[str, str]] = {s.name: {} for s in specs}
    errors = []
    for key, value in pairs:
        target, dot, fieldname = key.rpartition(".")
        if dot:
            if target not in by_name:
                errors.append(
                    f"Option '{key}' names '{target}', which this run does not use "
                    f"(it uses: {', '.join(by_name)})."
                )
                continue
            routed[target][fieldname] = value
            continue
        owners = [s for s in specs if s.config is not None and key in {f.name for f in dataclasses.fields(s.config)}]
        if len(owners) == 1:
            routed[owners[0].name][key] = value
        elif not owners:
            errors.append(
                f"Unknown option '{key}': none of {', '.join(by_name)} has it. "
                "Run 'gansuite show NAME' to see the options."
            )
        else:
            names = ", ".join(f"{s.name}.{key}" for s in owners)
            errors.append(f"Option '{key}' is ambiguous: write one of {names}.")
    return routed, errors


def config_dict(config: Any) -> dict[str, Any]:
    """A JSON-friendly dict of a config instance (``{}`` for ``None``)."""
    if config is None:
        return {}
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()}


def build_configs(specs: Sequence[Spec], pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Route ``pairs`` and build every spec's config; all bad fields are reported together."""
    routed, errors = route_overrides(pairs, specs)
    configs: dict[str, Any] = {}
    for spec in specs:
        try:
            configs[spec.name] = build_config(spec, routed.get(spec.name, {}))
        except OptionError as exc:
            errors.extend(str(exc).splitlines())
    if errors:
        raise OptionError("\n".join(errors))
    return configs
