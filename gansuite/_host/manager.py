"""Builds the plugin manager and the registries: entry points of the group ``gansuite``.

The reference plugins under ``plugins/`` are installed with gansuite and declared in its
``pyproject.toml`` under the same entry-point group as any third party's: there is no other
way in. Nothing happens at import time; :func:`get_catalog` does the work once per process.

Environment switches:
- ``GANSUITE_LOAD_PLUGINS=a,b``: load only these entry-point names (or distribution names);
  set but empty, load none. Unset: load every installed plugin. The test suite sets it so that
  no test depends on what else is installed.
- ``GANSUITE_DISABLE_PLUGINS=a,b``: skip these entry-point names (or distribution names).
- ``GANSUITE_TRACE_PLUGINS=1``: print every load and registration to stderr.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Any

import pluggy

from gansuite._host.registry import Registry
from gansuite.contract import hookspecs
from gansuite.contract.errors import GansuiteError, SignalInterrupt, UnknownNameError
from gansuite.contract.specs import SPEC_TYPES, PluginInfo, Spec

__all__ = ["Catalog", "PluginRecord", "get_catalog", "reset_catalog", "build_catalog", "HOOKS"]

ENTRY_POINT_GROUP = "gansuite"
# kind (as in `gansuite list KIND`) -> hook name
HOOKS: dict[str, str] = {
    "models": "register_models",
    "datasets": "register_datasets",
    "dedup": "register_dedup",
    "probes": "register_probes",
    "evals": "register_evals",
}


@dataclass
class PluginRecord:
    """One loaded (or failed) plugin and what it registered."""

    info: PluginInfo
    registered: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass
class Catalog:
    """All registries plus what each plugin did."""

    registries: dict[str, Registry[Any]]
    plugins: list[PluginRecord]
    manager: pluggy.PluginManager

    def registry(self, kind: str) -> Registry[Any]:
        try:
            return self.registries[kind]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(kind, list(self.registries), n=1)
            hint = f" Did you mean: {close[0]}?" if close else ""
            raise UnknownNameError(
                f"Unknown kind '{kind}'.{hint} Choose one of: {', '.join(self.registries)}."
            ) from None

    def get_recorded(self, kind: str, name: str, recorded: Mapping[str, str] | None) -> Any:
        """``name`` as an existing run uses it; ``recorded`` is the run's ``plugins`` record
        (plugin name -> "distribution version"). When the name is unknown because the plugin
        that registered it is disabled or missing, say so instead of "Unknown ..."."""
        try:
            return self.registry(kind).get(name)
        except UnknownNameError:
            loaded = {p.info.name for p in self.plugins}
            for plugin, dist in (recorded or {}).items():
                dist_name = str(dist).split(" ")[0]
                switch = _switched_off(plugin, dist_name)
                if switch:
                    what = "disables" if switch == "GANSUITE_DISABLE_PLUGINS" else "leaves out"
                    fix = "remove it from" if switch == "GANSUITE_DISABLE_PLUGINS" else "add it to"
                    raise UnknownNameError(
                        f"This run's {kind[:-1] if kind.endswith('s') else kind} '{name}' may come from plugin "
                        f"'{plugin}' ({dist}), which {switch} {what}; {fix} {switch} to use this run.") from None
                if plugin not in loaded:
                    raise UnknownNameError(
                        f"This run used plugin '{plugin}' ({dist}), which is not installed, and "
                        f"'{name}' is not registered; install {dist_name} to use this run.") from None
            raise

    def errors(self) -> list[str]:
        return [e for p in self.plugins for e in p.errors]

    def find(self, name: str) -> Spec:
        """The spec called ``name`` in any registry (models first)."""
        for reg in self.registries.values():
            if name in reg:
                return reg.get(name)
        every = [n for reg in self.registries.values() for n in reg.names()]
        import difflib

        close = difflib.get_close_matches(name, every, n=3, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownNameError(f"Unknown name '{name}'.{hint} Run 'gansuite list'.")


def _trace(msg: str) -> None:
    if os.environ.get("GANSUITE_TRACE_PLUGINS") == "1":
        print(f"gansuite[trace]: {msg}", file=sys.stderr)


def _names(variable: str) -> set[str] | None:
    """The comma-separated names in an environment variable; None when it is unset."""
    raw = os.environ.get(variable)
    return None if raw is None else {p.strip() for p in raw.split(",") if p.strip()}


def _switched_off(name: str, distribution: str) -> str | None:
    """The environment switch that keeps a plugin out (by entry-point or distribution name), if any."""
    keys = {name, distribution}
    allowed = _names("GANSUITE_LOAD_PLUGINS")
    if allowed is not None and not keys & allowed:
        return "GANSUITE_LOAD_PLUGINS"
    if keys & (_names("GANSUITE_DISABLE_PLUGINS") or set()):
        return "GANSUITE_DISABLE_PLUGINS"
    return None


def _cause(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _entry_points() -> list[tuple[metadata.EntryPoint, PluginInfo]]:
    found = []
    seen: set[str] = set()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist is not None else "?"
        version = dist.version if dist is not None else "?"
        key = f"{dist_name}:{ep.name}"
        if key in seen:  # the same distribution seen twice on sys.path
            continue
        seen.add(key)
        found.append((ep, PluginInfo(ep.name, dist_name, version, ep.value)))
    found.sort(key=lambda pair: (pair[1].distribution != "gansuite", pair[0].name))
    return found


def _load_entry_point(ep: metadata.EntryPoint) -> Any:
    """Import a plugin. A plugin that calls ``sys.exit`` or raises KeyboardInterrupt at import is
    a broken plugin like any other (it must not silence every command); a real Ctrl-C while it
    imports still stops the program (:class:`SignalInterrupt` from the handler installed here)."""
    import signal
    import threading

    installed = threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if installed:
        def handler(signum: int, frame: Any) -> None:
            raise SignalInterrupt("SIGINT")

        signal.signal(signal.SIGINT, handler)
    try:
        return ep.load()
    except SignalInterrupt:
        raise
    finally:
        if installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _registrar(kind: str, hook_name: str, record: PluginRecord, registry: Registry[Any]) -> Callable[[Spec], None]:
    """The ``register`` callback one plugin receives for one hook."""
    expected = SPEC_TYPES[kind]

    def register(spec: Spec) -> None:
        if not isinstance(spec, expected):
            raise GansuiteError(
                f"{hook_name} must register {expected.__name__} objects, got {type(spec).__name__}"
            )
        spec = replace(spec, plugin=record.info)
        registry.add(spec)
        record.registered.setdefault(kind, []).append(spec.name)
        _trace(f"{record.info.name}: registered {spec.kind} '{spec.name}'")

    return register


def _register_specs(
    pm: pluggy.PluginManager, plugin: object, record: PluginRecord, registries: dict[str, Registry[Any]]
) -> None:
    """Call each hook of one plugin alone, so registrations are attributed and isolated."""
    others = [p for p in pm.get_plugins() if p is not plugin]
    for kind, hook_name in HOOKS.items():
        caller = pm.subset_hook_caller(hook_name, remove_plugins=others)
        try:
            caller(register=_registrar(kind, hook_name, record, registries[kind]))
        except SignalInterrupt:
            raise
        except (Exception, SystemExit) as exc:  # a broken plugin must not take the others down
            record.errors.append(
                f"Plugin '{record.info.name}' from distribution '{record.info.distribution}' "
                f"failed in {hook_name}: {_cause(exc)}"
            )


def _unknown_hooks(pm: pluggy.PluginManager, module: object) -> str:
    """``'register_modles' (did you mean 'register_models'?)`` for each hook implementation in
    ``module`` that no hookspec declares."""
    import difflib

    known = set(HOOKS.values())
    parts = []
    for attr in sorted(dir(module)):
        if attr in known or pm.parse_hookimpl_opts(module, attr) is None:
            continue
        close = difflib.get_close_matches(attr, sorted(known), n=1, cutoff=0.6)
        parts.append(f"'{attr}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return ", ".join(parts) or "a hook no hookspec declares"


class UnknownHookError(GansuiteError):
    """A plugin implements a hook name that gansuite does not declare (a typo, usually)."""


def _register_module(pm: pluggy.PluginManager, module: object, name: str) -> None:
    """Register one module; a misspelled hook name unregisters it and raises."""
    pm.register(module, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        unknown = _unknown_hooks(pm, module)
        pm.unregister(module)
        raise UnknownHookError(f"implements an unknown hook {unknown}; the hooks are "
                               f"{', '.join(HOOKS.values())} (docs/plugins.md, section 3)") from None


def build_catalog(extra_plugins: dict[str, object] | None = None) -> Catalog:
    """Load every entry point (and ``extra_plugins``, used by tests) into fresh registries."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registries = {kind: Registry[Any](SPEC_TYPES[kind].kind, kind) for kind in HOOKS}
    records: list[PluginRecord] = []
    loaded: list[tuple[object, PluginRecord]] = []
    for ep, info in _entry_points():
        record = PluginRecord(info)
        switch = _switched_off(info.name, info.distribution)
        if switch:
            _trace(f"{info.name}: left out by {switch}")
            continue
        records.append(record)
        try:
            module = _load_entry_point(ep)
            _register_module(pm, module, info.name)
        except SignalInterrupt:
            raise
        except UnknownHookError as exc:  # the plugin's own mistake, not a traceback: no file:line
            record.errors.append(f"Plugin '{info.name}' from distribution '{info.distribution}' {exc}")
            continue
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # see _load_entry_point
            record.errors.append(
                f"Plugin '{info.name}' from distribution '{info.distribution}' failed to load: "
                f"{_cause(exc)}"
            )
            continue
        _trace(f"{info.name}: loaded {info.module} from {info.distribution} {info.version}")
        loaded.append((module, record))
    for name, module in (extra_plugins or {}).items():
        record = PluginRecord(PluginInfo(name, "<local>", "0", getattr(module, "__name__", name)))
        records.append(record)
        try:
            _register_module(pm, module, name)
        except GansuiteError as exc:
            record.errors.append(f"Plugin '{name}' {exc}")
            continue
        loaded.append((module, record))
    for module, record in loaded:
        _register_specs(pm, module, record, registries)
    return Catalog(registries, records, pm)


_CATALOG: Catalog | None = None


def get_catalog() -> Catalog:
    """The process-wide catalog, built on first use."""
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = build_catalog()
    return _CATALOG


def reset_catalog(catalog: Catalog | None = None) -> None:
    """Forget the cached catalog (or install one): for tests and long-lived hosts."""
    global _CATALOG
    _CATALOG = catalog

