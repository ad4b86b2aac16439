"""The host's plugin machinery (private): the plugin manager and catalog, the registries and the
``-o key=value`` options. It builds on :mod:`gansuite.contract` and nothing above it; plugins never
import it (``lint-imports`` checks that).
"""
