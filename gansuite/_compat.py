"""Every deprecated name of the plugin contract, in one table, and what keeps each one working.

:data:`DEPRECATED` lists each name with the contract version that deprecated it (``since``) and
the one that removes it (``removal``). Two kinds of entry:

- an old module path (``gansuite.errors``, ``gansuite.plugin.manager``): importing it still works
  and gives the module that replaced it, with a ``DeprecationWarning`` that names the new place.
  :func:`install` (called by ``import gansuite``) adds the import hook that does this; nothing
  else is imported until an old path is used.
- the first contract's model (a plain object without :class:`gansuite.GANModel`):
  :func:`adapt_model` wraps it so the engine's defaults fill in, with a ``DeprecationWarning``.

Removing a name at its ``removal`` version means deleting its row (and, for the model, the
adapter); ``tests/test_compat.py`` checks that every row still works and warns.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gansuite.contract.model import GANModel

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["Deprecation", "DEPRECATED", "V1_MEMBERS", "install", "adapt_model", "warn"]


@dataclass(frozen=True)
class Deprecation:
    """One deprecated name: ``name`` (an import path, or a description for a behaviour),
    ``target`` (the module an old path now gives, ``""`` for a behaviour), ``use`` (what to write
    instead), the contract version that deprecated it and the one that removes it."""

    name: str
    target: str
    use: str
    since: str
    removal: str


def _moved(old: str, new: str, since: str, use: str = "") -> Deprecation:
    return Deprecation(old, new, use or "from gansuite import ...", since, "3.0")


DEPRECATED: tuple[Deprecation, ...] = (
    # the first contract's module paths (API 1)
    _moved("gansuite.errors", "gansuite.contract.errors", "2.0"),
    _moved("gansuite.hookspecs", "gansuite.contract.hookspecs", "2.0"),
    _moved("gansuite.specs", "gansuite.contract.specs", "2.0"),
    _moved("gansuite.protocols", "gansuite.contract.protocols", "2.0"),
    _moved("gansuite.options", "gansuite._host.options", "2.0", "gansuite.option(...) for config fields"),
    Deprecation("a model object without the GANModel base class", "", "subclass gansuite.GANModel",
                "2.0", "3.0"),
    # gansuite.plugin split into the public contract and the private host (API 2.1)
    _moved("gansuite.plugin", "gansuite.contract", "2.1"),
    *(_moved(f"gansuite.plugin.{m}", f"gansuite.contract.{m}", "2.1")
      for m in ("hookspecs", "specs", "model", "protocols", "errors", "files", "images", "progress")),
    _moved("gansuite.plugin.manager", "gansuite._host.manager", "2.1", "gansuite.reset_catalog"),
    _moved("gansuite.plugin.registry", "gansuite._host.registry", "2.1"),
    _moved("gansuite.plugin.options", "gansuite._host.options", "2.1", "gansuite.option(...) for config fields"),
)

_MODULES: dict[str, Deprecation] = {d.name: d for d in DEPRECATED if d.target}


def warn(entry: Deprecation, *, stacklevel: int = 3) -> None:
    """Issue ``entry``'s ``DeprecationWarning``."""
    warnings.warn(f"{entry.name} is deprecated since gansuite API {entry.since} and removed in "
                  f"{entry.removal}; use {entry.use}", DeprecationWarning, stacklevel=stacklevel)


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module path as a module that forwards every attribute to its new place."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        entry = _MODULES.get(fullname)
        if entry is None:
            return None
        package = any(n.startswith(fullname + ".") for n in _MODULES)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=package)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        entry = _MODULES[spec.name]
        # stacklevel 2 from here: the warnings module skips the import system's own frames, so
        # the warning points at the line that imported the old path
        warnings.warn(f"{entry.name} is deprecated since gansuite API {entry.since} and removed in "
                      f"{entry.removal}; use {entry.use}", DeprecationWarning, stacklevel=2)
        new = importlib.import_module(entry.target)
        module = types.ModuleType(spec.name, new.__doc__)

        def forward(name: str) -> Any:
            return getattr(new, name)

        module.__getattr__ = forward  # type: ignore[method-assign]
        module.__all__ = list(getattr(new, "__all__", ()))  # type: ignore[attr-defined]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        if module.__spec__ is not None and module.__spec__.submodule_search_locations is not None:
            module.__path__ = []


_FINDER = _OldPaths()


def install() -> None:
    """Make the old module paths importable (idempotent; imports nothing)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)


# -- the first contract's model ------------------------------------------------------------------

V1_MEMBERS = ("generator", "discriminator", "z_dim", "image_size", "channels", "recipe", "sample_z",
              "features", "d_loss", "g_loss", "optimizers")
"""What a model written against the first contract (a plain object, no base class) provides."""

_V1 = next(d for d in DEPRECATED if d.name.startswith("a model object"))


class _V1Model(GANModel):
    """A first-contract model behind the :class:`GANModel` defaults. Each member the first
    contract defined is delegated to the wrapped object by name; everything it did not define
    (``train_step``, ``generate``, ``extra_state``...) is the base class's."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        for name in ("generator", "discriminator", "z_dim", "image_size", "channels", "recipe"):
            setattr(self, name, getattr(obj, name))

    def sample_z(self, n: int, *, generator: torch.Generator | None = None, device: Any = None) -> torch.Tensor:
        return self._obj.sample_z(n, generator=generator, device=device)  # type: ignore[no-any-return]

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> list[torch.Tensor]:
        return list(self._obj.features(x))

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return self._obj.d_loss(real_logits, fake_logits)  # type: ignore[no-any-return]

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return self._obj.g_loss(fake_logits)  # type: ignore[no-any-return]

    def optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        return self._obj.optimizers()  # type: ignore[no-any-return]

    def describe(self) -> dict[str, Any]:
        own = getattr(self._obj, "describe", None)
        return dict(own()) if callable(own) else {}

    def step_stats(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """The first contract's engine logged sigmoid means of D's logits; keep those columns."""
        return {"d_real": real_logits.sigmoid().mean(), "d_fake": fake_logits.sigmoid().mean()}

    def eval_generator(self) -> nn.Module:
        return self.generator


def adapt_model(obj: Any) -> GANModel:
    """``obj`` as a :class:`GANModel`: subclasses as they are; a first-contract object (every
    member of :data:`V1_MEMBERS`) wrapped so the defaults fill in, with a ``DeprecationWarning``.
    Raises TypeError otherwise."""
    if isinstance(obj, GANModel):
        return obj
    missing = [m for m in V1_MEMBERS if not hasattr(obj, m)]
    if missing:
        raise TypeError(f"expected a gansuite.GANModel, got {type(obj).__name__} "
                        f"(missing: {', '.join(missing)})")
    warn(_V1)
    return _V1Model(obj)
