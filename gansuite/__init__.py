"""gansuite: a plugin-based GAN benchmarking suite.

The public API for plugin authors is this package's namespace::

    from gansuite import hookimpl, ModelSpec, GANModel, Batch, TrainContext, OptionError

Names resolve lazily (PEP 562), so ``import gansuite`` imports neither torch nor pandas.
``API_VERSION`` is the plugin contract's version (see docs/plugins.md, "Compatibility").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
API_VERSION = "2.0"

# public name -> module that defines it (every module here is torch-free at import)
_PUBLIC: dict[str, str] = {
    **dict.fromkeys(("hookimpl", "hookspec"), "gansuite.plugin.hookspecs"),
    **dict.fromkeys(("ModelSpec", "DatasetSpec", "DedupSpec", "ProbeSpec", "EvalSpec", "PluginInfo", "ImportedWeights"),
                    "gansuite.plugin.specs"),
    **dict.fromkeys(("GANModel", "Batch", "TrainContext", "TrainingRecipe"), "gansuite.plugin.model"),
    **dict.fromkeys(("ImageData", "Verification", "ImageDataset", "DedupStrategy", "ProbeContext", "Probe"),
                    "gansuite.plugin.protocols"),
    **dict.fromkeys(("GansuiteError", "OptionError", "PluginError", "DataError", "MissingDataError",
                     "CorruptDataError", "IntegrityError", "RunError", "DivergenceError", "CheckpointError"),
                    "gansuite.plugin.errors"),
    **dict.fromkeys(("atomic_write", "atomic_write_bytes", "atomic_write_json"), "gansuite.plugin.files"),
    **dict.fromkeys(("center_crop_resize", "save_image_grid"), "gansuite.plugin.images"),
    "progress": "gansuite.plugin.progress",
}

__all__ = ["__version__", "API_VERSION", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'gansuite' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from gansuite.plugin.errors import (
        CheckpointError,
        CorruptDataError,
        DataError,
        DivergenceError,
        GansuiteError,
        IntegrityError,
        MissingDataError,
        OptionError,
        PluginError,
        RunError,
    )
    from gansuite.plugin.files import atomic_write, atomic_write_bytes, atomic_write_json
    from gansuite.plugin.hookspecs import hookimpl, hookspec
    from gansuite.plugin.images import center_crop_resize, save_image_grid
    from gansuite.plugin.model import Batch, GANModel, TrainContext, TrainingRecipe
    from gansuite.plugin.progress import progress
    from gansuite.plugin.protocols import (
        DedupStrategy,
        ImageData,
        ImageDataset,
        Probe,
        ProbeContext,
        Verification,
    )
    from gansuite.plugin.specs import (
        DatasetSpec,
        DedupSpec,
        EvalSpec,
        ImportedWeights,
        ModelSpec,
        PluginInfo,
        ProbeSpec,
    )
