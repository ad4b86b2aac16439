"""Deprecated location (API 1): use ``from gansuite import ...`` or ``gansuite.plugin.specs``.

Kept so plugins written against the first contract keep importing; removed in API 3.
"""

import warnings

from gansuite.plugin.specs import *  # noqa: F403
from gansuite.plugin.specs import __all__  # noqa: F401

warnings.warn("gansuite.specs is deprecated; import from 'gansuite' (or gansuite.plugin.specs)",
              DeprecationWarning, stacklevel=2)
