"""Benchmark studies: many ordinary runs (models x datasets x seeds) planned, run, resumed and
aggregated as one.

- :mod:`gansuite.study.spec`: the TOML spec, read into frozen dataclasses.
- :mod:`gansuite.study.plan`: the cells, validated with ``gansuite run``'s planning code, and
  what each needs next (run, resume, evaluate, done) read from its run folder.
- :mod:`gansuite.study.executors`: local subprocesses, or submitit (Slurm, local, debug).
- :mod:`gansuite.study.driver`: the ``gansuite study`` orchestration.
- :mod:`gansuite.study.aggregate` and :mod:`gansuite.study.tables`: mean, std and 95% intervals
  over seeds, controls beside each measurement, pairwise tests, the error-bar figure.
- :mod:`gansuite.study.html`: the self-contained HTML report.

Importing this package is cheap; the modules import pandas, scipy and matplotlib lazily.
"""

from __future__ import annotations

__all__: list[str] = []
