"""Deprecated location (API 1): use ``from gansuite import ...`` or ``gansuite.plugin.protocols``.

Kept so plugins written against the first contract keep importing; removed in API 3.
"""

import warnings

from gansuite.plugin.protocols import *  # noqa: F403
from gansuite.plugin.protocols import __all__  # noqa: F401

warnings.warn("gansuite.protocols is deprecated; import from 'gansuite' (or gansuite.plugin.protocols)",
              DeprecationWarning, stacklevel=2)
