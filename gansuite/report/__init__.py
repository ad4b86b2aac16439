"""Reports (host layer above :mod:`gansuite.runs`): the results table of run folders, text tables,
and the benchmark history with its generated page.
"""
