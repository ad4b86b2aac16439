"""The plugin contract: every name a plugin author uses, re-exported by the ``gansuite`` facade.

Hookspecs, specs, the model base class, the protocols of datasets, dedup strategies and probes,
the error hierarchy and the small helpers (atomic files, images, progress). It imports nothing
else of gansuite and, at import, no torch. Import these names from ``gansuite``, not from here.
"""
