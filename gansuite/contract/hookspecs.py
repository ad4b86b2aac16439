"""Every extension point of gansuite, and nothing else.

Each hook receives a ``register`` callback (registrar style, as in simonw/llm): call it once
per thing you provide. The host calls each plugin's implementation separately, records which
plugin registered what, and validates every spec at once (name syntax, duplicates, type).
A plugin may implement any subset of the hooks; an implementation may take fewer arguments
than its spec, never more.

Results combine by union: every plugin's registrations are added to one registry per kind.
The same name from two plugins is an error naming both; the rest keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from gansuite.contract.specs import DatasetSpec, DedupSpec, EvalSpec, ModelSpec, ProbeSpec

__all__ = ["hookspec", "hookimpl", "PROJECT"]

PROJECT = "gansuite"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register GAN architectures with their training recipe.

    Called once per process, the first time a registry is needed (``gansuite list``, ``run``...).
    Call ``register(ModelSpec(...))`` for each model. The factory is called as
    ``factory(config, image_size=..., channels=...)`` and must return an object satisfying
    :class:`gansuite.contract.protocols.GANModel`. Results combine by union over all plugins.
    """


@hookspec
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register image datasets.

    Called once per process, when the dataset registry is first needed. Call
    ``register(DatasetSpec(...))`` for each dataset. The factory is called as
    ``factory(config, root=Path)`` and must return a :class:`gansuite.contract.protocols.ImageDataset`.
    Results combine by union over all plugins.
    """


@hookspec
def register_dedup(register: Callable[[DedupSpec], None]) -> None:
    """Register deduplication strategies.

    Called once per process, when the dedup registry is first needed. Call
    ``register(DedupSpec(...))`` for each strategy; the factory is called as ``factory(config)``
    and returns a :class:`gansuite.contract.protocols.DedupStrategy`. Results combine by union.
    """


@hookspec
def register_probes(register: Callable[[ProbeSpec], None]) -> None:
    """Register evaluation probes.

    Called once per process, when the probe registry is first needed. Call
    ``register(ProbeSpec(...))`` for each probe; the factory is called as ``factory(config)``
    and returns a :class:`gansuite.contract.protocols.Probe`. Results combine by union.
    """


@hookspec
def register_evals(register: Callable[[EvalSpec], None]) -> None:
    """Register evaluation presets: a named dataset + splits + probe + parameters.

    Called once per process, when the eval registry is first needed. Call
    ``register(EvalSpec(...))`` for each preset. The dataset and probe it names may come from
    any plugin; they are checked when the eval is used. Results combine by union.
    """
