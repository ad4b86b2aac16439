"""Frozen descriptions of what a plugin registers.

A spec is cheap to build and to list: it holds a *lazy* factory (``"package.module:function"``
or a callable defined in a module that does not import torch at top level) and an optional
config dataclass whose fields are the options a user can set with ``-o key=value``.

The host fills in :attr:`Spec.plugin` when it records a registration; plugins leave it unset.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "PluginInfo",
    "Spec",
    "ModelSpec",
    "DatasetSpec",
    "DedupSpec",
    "ProbeSpec",
    "EvalSpec",
    "SPEC_TYPES",
    "ImportedWeights",
    "PROBE_NEEDS",
    "resolve_object",
]

PROBE_NEEDS = ("samples", "generator", "discriminator")


@dataclass(frozen=True)
class PluginInfo:
    """Where a registration came from: the entry-point name and its distribution."""

    name: str
    distribution: str
    version: str
    module: str = ""


def resolve_object(ref: str | Callable[..., Any]) -> Any:
    """Import ``"pkg.module:attr"`` (or return a callable as is)."""
    if not isinstance(ref, str):
        return ref
    module_name, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True, kw_only=True)
class Spec:
    """Common fields of every registration.

    ``factory`` builds the object (see each subclass for its signature); ``config`` is a
    dataclass type whose fields are the user-settable options (or ``None`` for none).
    """

    kind: ClassVar[str] = "spec"
    plural: ClassVar[str] = "specs"

    name: str
    summary: str
    factory: str | Callable[..., Any] | None = None
    config: type | None = None
    paper: str = ""
    license: str = ""
    tags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    plugin: PluginInfo | None = None

    def origin(self) -> str:
        """Where this spec came from, for messages: ``plugin 'dcgan', gansuite 0.1.0``."""
        p = self.plugin
        return f"plugin '{p.name}', {p.distribution} {p.version}" if p is not None else "no plugin"

    def load_factory(self) -> Callable[..., Any]:
        """Import and return the factory (the first heavy import happens here)."""
        if self.factory is None:
            raise TypeError(f"{self.kind} '{self.name}' has no factory")
        return resolve_object(self.factory)

    def default_config(self) -> Any:
        """An instance of the config dataclass with its defaults (``None`` when there is none)."""
        return self.config() if self.config is not None else None

    def option_fields(self) -> list[dataclasses.Field[Any]]:
        """The config's fields, in declaration order."""
        if self.config is None:
            return []
        return list(dataclasses.fields(self.config))


@dataclass(frozen=True, kw_only=True)
class ModelSpec(Spec):
    """A GAN architecture with its training recipe.

    ``factory(config, *, image_size: int, channels: int) -> gansuite.contract.protocols.GANModel``.
    ``deviations`` lists, in words, where this config departs from the paper it cites.
    """

    kind: ClassVar[str] = "model"
    plural: ClassVar[str] = "models"
    deviations: tuple[str, ...] = ()
    importer: str | Callable[..., Any] | None = None
    """Loads weights saved by this architecture's original code (``gansuite eval --generator G.pth
    --model NAME``): ``importer(generator_state, discriminator_state) -> ImportedWeights``, where
    the states are the files' state dicts (the discriminator's None when not given). It maps their
    key names (and layouts) to the model's own and reads the model options off the shapes; the
    host builds the model with those options, checks every shape and loads strictly. A lazy
    ``"module:function"`` like ``factory``; None: only state dicts in the model's own key names."""


@dataclass(frozen=True, kw_only=True)
class DatasetSpec(Spec):
    """An image dataset with named splits.

    ``factory(config, *, root: pathlib.Path) -> gansuite.contract.protocols.ImageDataset``. ``root`` is the
    data root already resolved (``--data-root``, ``GANSUITE_DATA`` or the user cache folder).
    """

    kind: ClassVar[str] = "dataset"
    plural: ClassVar[str] = "datasets"
    splits: tuple[str, ...] = ("train",)
    train_split: str = "train"
    image_size: int = 32
    channels: int = 3
    num_classes: int | None = None
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class DedupSpec(Spec):
    """A deduplication strategy: ``factory(config) -> gansuite.contract.protocols.DedupStrategy``."""

    kind: ClassVar[str] = "dedup"
    plural: ClassVar[str] = "dedup"


@dataclass(frozen=True, kw_only=True)
class ProbeSpec(Spec):
    """An evaluation probe: ``factory(config) -> Probe``.

    ``columns`` declares the detail keys of its result rows that result tables show, as
    ``(row key, column header, format)`` with a format spec such as ``"g"`` or ``".1f"``
    (``""``: the default number format). Every table shows ``eval``, ``metric``, ``variant``,
    ``value``, ``ci95`` and the eval's time.
    """

    kind: ClassVar[str] = "probe"
    plural: ClassVar[str] = "probes"
    columns: tuple[tuple[str, str, str], ...] = ()
    needs: tuple[str, ...] = ("generator", "discriminator")
    """What the probe uses of a model, so that a model trained elsewhere is refused in one line
    before any work when it lacks it: ``"samples"`` (generated images only: a folder of samples
    will do), ``"generator"`` (G as a function of z), ``"discriminator"`` (D and its features).
    The default assumes both networks."""

    def __post_init__(self) -> None:
        unknown = [n for n in self.needs if n not in PROBE_NEEDS]
        if unknown or not self.needs:
            raise ValueError(f"probe '{self.name}': needs must name one or more of {', '.join(PROBE_NEEDS)}, "
                             f"got {self.needs!r}")


@dataclass(frozen=True, kw_only=True)
class EvalSpec(Spec):
    """A named composition: dataset + splits + probe + probe parameters (no factory).

    ``params`` are probe-config overrides (already typed values, not strings); the user's
    ``-o probe.field=value`` wins over them. ``train_steps`` is the number of training steps
    ``gansuite run --eval NAME`` trains for when the user gives no --max-steps, --epochs or
    --time-budget (a count, so a rerun on a busier machine trains the same model);
    ``train_budget``, in seconds, is used instead where no eval names steps (``None`` for both:
    the runner's default).
    """

    kind: ClassVar[str] = "eval"
    plural: ClassVar[str] = "evals"
    dataset: str
    probe: str
    train_split: str = "train"
    test_split: str = "test"
    params: Mapping[str, Any] = field(default_factory=dict)
    train_budget: float | None = None
    train_steps: int | None = None


@dataclass(frozen=True)
class ImportedWeights:
    """What a :attr:`ModelSpec.importer` returns: the state dicts in the model's own key names
    (``discriminator`` None when no discriminator file was given), the model options read off the
    weights (``{"z_dim": 100, "ngf": 64, ...}``), the image size and channel count they were
    trained at, and ``source``: the code that saved them, in words (recorded with the results)."""

    generator: Mapping[str, Any]
    discriminator: Mapping[str, Any] | None
    options: Mapping[str, Any]
    image_size: int
    channels: int
    source: str


SPEC_TYPES: dict[str, type[Spec]] = {
    "models": ModelSpec,
    "datasets": DatasetSpec,
    "dedup": DedupSpec,
    "probes": ProbeSpec,
    "evals": EvalSpec,
}
