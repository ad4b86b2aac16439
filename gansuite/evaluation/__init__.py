"""Evaluation (host layer above :mod:`gansuite.engine`): loads a trained run, builds a probe and the
context it receives (the model in eval mode, the random-model control, the eval's splits) and
records its rows with their provenance.
"""
