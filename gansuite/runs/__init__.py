"""Runs (host layer above :mod:`gansuite.evaluation`): a run's plan from the command line, the
preflight checks that fail before any training, and the execution of training then evals.
"""
