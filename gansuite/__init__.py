"""gansuite: a plugin-based GAN benchmarking suite.

The public API for plugin authors is this package's namespace::

    from gansuite import hookimpl, ModelSpec, GANModel, Batch, TrainContext, OptionError

Names resolve lazily (PEP 562), so ``import gansuite`` imports neither torch nor pandas.
``API_VERSION`` is the plugin contract's version (see docs/plugins.md, "Compatibility").

Layout: :mod:`gansuite.contract` defines the public contract these names come from (import
them from here, not from there); :mod:`gansuite._host` loads plugins and checks their options
(private); ``engine``, ``evaluation``, ``runs``, ``report``, ``study`` and ``cli`` are the
host's layers above it; :mod:`gansuite.testing` is the conformance kit for plugins' test suites.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gansuite import _compat

__version__ = "0.1.0"
API_VERSION = "2.1"

# public name -> module that defines it (torch-free at import, except that a name from _HOST
# imports the host's module, and torch with it, the first time it is used)
_PUBLIC: dict[str, str] = {
    **dict.fromkeys(("hookimpl", "hookspec"), "gansuite.contract.hookspecs"),
    **dict.fromkeys(("ModelSpec", "DatasetSpec", "DedupSpec", "ProbeSpec", "EvalSpec", "PluginInfo",
                     "ImportedWeights"),
                    "gansuite.contract.specs"),
    **dict.fromkeys(("GANModel", "Batch", "TrainContext", "TrainingRecipe"), "gansuite.contract.model"),
    **dict.fromkeys(("ImageData", "Verification", "ImageDataset", "DedupStrategy", "ProbeContext", "Probe",
                     "ModelCheck"),
                    "gansuite.contract.protocols"),
    **dict.fromkeys(("GansuiteError", "OptionError", "PluginError", "DataError", "MissingDataError",
                     "CorruptDataError", "IntegrityError", "RunError", "DivergenceError", "CheckpointError"),
                    "gansuite.contract.errors"),
    **dict.fromkeys(("atomic_write", "atomic_write_bytes", "atomic_write_json", "default_cache_dir"),
                    "gansuite.contract.files"),
    **dict.fromkeys(("center_crop_resize", "save_image_grid"), "gansuite.contract.images"),
    "progress": "gansuite.contract.progress",
    "option": "gansuite.contract.fields",
    "load_data_pickle": "gansuite.contract.safepickle",
    **dict.fromkeys(("generate_images", "balanced_labels", "eval_mode"), "gansuite.contract.sampling"),
    "reset_catalog": "gansuite._host.manager",
}

# public name -> (module, attribute) where the host's function has another name
_HOST: dict[str, tuple[str, str]] = {
    "load_run": ("gansuite.engine.build", "load_run_model"),
}

__all__ = ["__version__", "API_VERSION", *_PUBLIC, *_HOST]


# the deprecated module paths (gansuite.errors, gansuite.plugin.*) import through gansuite._compat
_compat.install()


def __getattr__(name: str) -> Any:
    module, attr = _HOST.get(name) or (_PUBLIC.get(name), name)
    if module is None:
        raise AttributeError(f"module 'gansuite' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from gansuite._host.manager import reset_catalog
    from gansuite.contract.errors import (
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
    from gansuite.contract.fields import option
    from gansuite.contract.files import atomic_write, atomic_write_bytes, atomic_write_json, default_cache_dir
    from gansuite.contract.hookspecs import hookimpl, hookspec
    from gansuite.contract.images import center_crop_resize, save_image_grid
    from gansuite.contract.model import Batch, GANModel, TrainContext, TrainingRecipe
    from gansuite.contract.progress import progress
    from gansuite.contract.protocols import (
        DedupStrategy,
        ImageData,
        ImageDataset,
        ModelCheck,
        Probe,
        ProbeContext,
        Verification,
    )
    from gansuite.contract.safepickle import load_data_pickle
    from gansuite.contract.sampling import balanced_labels, eval_mode, generate_images
    from gansuite.contract.specs import (
        DatasetSpec,
        DedupSpec,
        EvalSpec,
        ImportedWeights,
        ModelSpec,
        PluginInfo,
        ProbeSpec,
    )
    from gansuite.engine.build import load_run_model as load_run
