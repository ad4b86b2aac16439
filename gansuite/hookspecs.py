"""Deprecated location (API 1): use ``from gansuite import ...`` or ``gansuite.plugin.hookspecs``.

Kept so plugins written against the first contract keep importing; removed in API 3.
"""

import warnings

from gansuite.plugin.hookspecs import *  # noqa: F403
from gansuite.plugin.hookspecs import __all__  # noqa: F401

warnings.warn("gansuite.hookspecs is deprecated; import from 'gansuite' (or gansuite.plugin.hookspecs)",
              DeprecationWarning, stacklevel=2)
