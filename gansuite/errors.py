"""Deprecated location (API 1): use ``from gansuite import ...`` or ``gansuite.plugin.errors``.

Kept so plugins written against the first contract keep importing; removed in API 3.
"""

import warnings

from gansuite.plugin.errors import *  # noqa: F403
from gansuite.plugin.errors import __all__  # noqa: F401

warnings.warn("gansuite.errors is deprecated; import from 'gansuite' (or gansuite.plugin.errors)",
              DeprecationWarning, stacklevel=2)
