"""Reading pickle-based data files without running code from them.

``pickle.load`` calls whatever importable function a file names, so a crafted batch file runs a
shell command as easily as it builds an array. A data file in the CIFAR python layout holds
only dicts, lists, tuples, strings, bytes, numbers and numpy arrays; :func:`load_data_pickle`
admits exactly those and refuses any file that asks for anything else, naming the file and what
it asked for.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from gansuite.contract.errors import CorruptDataError

__all__ = ["load_data_pickle", "ALLOWED_GLOBALS"]

# (module, name) a numpy array, dtype or scalar pickles through; numpy >= 2 renamed numpy.core to
# numpy._core and both spellings occur in files. `_codecs.encode` is how protocol 2 spells bytes.
ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
})


def _resolve(module: str, name: str) -> Any:
    import codecs

    import numpy as np

    if module == "numpy":
        return getattr(np, name)
    if module == "_codecs":
        return codecs.encode
    try:  # numpy >= 2 (importing numpy.core there warns)
        from numpy._core import multiarray, numeric
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    return getattr(multiarray if module.endswith("multiarray") else numeric, name)


class _DataUnpickler(pickle.Unpickler):
    def __init__(self, fh: Any, path: Path) -> None:
        super().__init__(fh, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise CorruptDataError(
                f"{self.path} asks to load '{module}.{name}', which a data file never needs: it may "
                "have been crafted to run code, so it was not read. Delete it and download the "
                "dataset again from its official source."
            )
        return _resolve(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise CorruptDataError(f"{self.path} holds a persistent reference, which a data file never "
                               "needs; it was not read. Delete it and download the dataset again.")


def _check_arrays(obj: Any, path: Path, depth: int = 0) -> None:
    """No object arrays (their items would be arbitrary objects) anywhere in the loaded value."""
    import numpy as np

    if depth > 50:
        raise CorruptDataError(f"{path} nests its values too deeply for a data file; download it again.")
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise CorruptDataError(f"{path} holds an array of Python objects, which a data file never "
                               "needs; download the dataset again.")
    if isinstance(obj, dict):
        for key, value in obj.items():
            _check_arrays(key, path, depth + 1)
            _check_arrays(value, path, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _check_arrays(item, path, depth + 1)


def load_data_pickle(path: Path | str, what: str = "data") -> Any:
    """The value pickled in ``path``, read with only the types a data file holds.

    :class:`CorruptDataError` (naming ``path``) for a file that asks for anything else, or that is
    truncated or not a pickle at all.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorruptDataError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    try:
        obj = _DataUnpickler(io.BytesIO(raw), path).load()
    except CorruptDataError:
        raise
    except Exception as exc:  # truncated, not a pickle, wrong protocol, bad array state
        raise CorruptDataError(
            f"{path} is not a readable {what} pickle ({type(exc).__name__}: {exc}); "
            "delete it and download the dataset again."
        ) from None
    _check_arrays(obj, path)
    return obj
