"""gansuite: a plugin-based GAN benchmarking suite.

Importing this package is cheap: no torch, no pandas. Heavy modules import them lazily.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
