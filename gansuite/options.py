"""Deprecated location (API 1): use ``from gansuite import ...`` or ``gansuite.plugin.options``.

Kept so plugins written against the first contract keep importing; removed in API 3.
"""

import warnings

from gansuite.plugin.options import *  # noqa: F403
from gansuite.plugin.options import __all__  # noqa: F401

warnings.warn("gansuite.options is deprecated; import from 'gansuite' (or gansuite.plugin.options)",
              DeprecationWarning, stacklevel=2)
