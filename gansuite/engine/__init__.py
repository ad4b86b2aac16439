"""The training engine (host layer above :mod:`gansuite._host`): builds a model from its spec, runs
its training step under the engine's context (seeded latents, data order, autocast, DDP),
writes the run folder's files and checkpoints, and resumes a cut run bit-identically.
"""
