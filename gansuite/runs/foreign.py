"""``gansuite eval --images / --generator ... --out DIR``: a model trained elsewhere, into a run folder.

The output is an ordinary run folder: ``config.json`` (the sources with their sha256, the model,
the options, seed, device, versions, plugins, git commit), ``results.json`` (rows with the same
provenance as a run's, plus ``sources`` and ``random_control``) and ``samples/`` (a grid of the
model's samples and each probe's figures). So ``gansuite results`` and ``gansuite compare`` put a
foreign model beside gansuite's own runs. Evaluating the same sources into the same folder again
appends rows; another model's folder is refused.

Everything is checked before anything heavy: names, options, and that each eval's probe needs
only what was given (a folder of samples has no generator; a generator file may lack D).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gansuite._host.manager import Catalog, get_catalog
from gansuite._host.options import build_config, config_dict, parse_pairs, split_overrides
from gansuite.contract.errors import CheckpointError, OptionError
from gansuite.engine.runfolder import RunFolder
from gansuite.runs.plan import MAX_SEED, git_commit, plugin_versions, versions

__all__ = ["ForeignRequest", "evaluate_foreign"]


@dataclass
class ForeignRequest:
    """The options of ``gansuite eval`` for a model trained elsewhere."""

    out: Path
    evals: Sequence[str]
    images: Path | None = None
    generator: Path | None = None
    discriminator: Path | None = None
    model: str | None = None
    z_dim: int | None = None
    image_size: int | None = None
    z_prior: str | None = None
    data_root: Path | None = None
    device: str = "auto"
    options: Sequence[str] = field(default_factory=tuple)
    allow_unverified: bool = False
    seed: int = 0
    progress: bool = True


def _check(req: ForeignRequest) -> None:
    errors = []
    for flag, value in (("--z-dim", req.z_dim), ("--image-size", req.image_size)):
        if value is not None and value <= 0:
            errors.append(f"{flag} must be a positive integer, got {value}.")
    if not 0 <= req.seed <= MAX_SEED:
        errors.append(f"--seed must lie in [0, 2**63 - 1], got {req.seed}.")
    if req.z_prior not in (None, "normal", "uniform"):
        errors.append(f"--z-prior must be normal or uniform, got {req.z_prior!r}.")
    if not req.evals:
        errors.append("Name at least one --eval (run 'gansuite list evals').")
    if errors:
        raise OptionError("\n".join(errors))


def _prepare_folder(folder: RunFolder, sources: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The folder's config when it already holds these sources' results; refuse any other content."""
    if folder.exists():
        config = folder.read_config()
        have = sorted((s.get("role"), s.get("sha256")) for s in config.get("sources") or [] if isinstance(s, dict))
        want = sorted((s["role"], s["sha256"]) for s in sources)
        if have != want:
            raise CheckpointError(f"{folder.path} holds the results of another model (its config.json names other "
                                  "sources); choose another --out.")
        folder.read_results()  # a damaged results.json is reported before any work
        return config
    if folder.foreign_entries():
        raise CheckpointError(f"{folder.path} exists and is not empty; choose a new --out folder.")
    return None


def evaluate_foreign(req: ForeignRequest, catalog: Catalog | None = None) -> list[dict[str, Any]]:
    """Evaluate images or a generator trained elsewhere; rows go to ``req.out/results.json``."""
    catalog = catalog or get_catalog()
    _check(req)
    evals = [catalog.registry("evals").get(name) for name in dict.fromkeys(req.evals)]
    probes = {e.probe: catalog.registry("probes").get(e.probe) for e in evals}
    datasets = {e.dataset: catalog.registry("datasets").get(e.dataset) for e in evals}
    model_spec = catalog.registry("models").get(req.model) if req.model else None
    routed = split_overrides(parse_pairs(req.options),
                             [*probes.values(), *datasets.values(), *([model_spec] if model_spec else [])])
    probe_configs = {e.name: build_config(probes[e.probe], {**dict(e.params), **routed[e.probe]}) for e in evals}
    dataset_configs = {name: build_config(spec, routed[name]) for name, spec in datasets.items()}

    from gansuite.evaluation.foreign import (
        ForeignInputs,
        ForeignSession,
        check_labels,
        check_needs,
        load_foreign,
    )

    inputs = ForeignInputs(images=req.images, generator=req.generator, discriminator=req.discriminator,
                           model=model_spec, model_options=routed[model_spec.name] if model_spec else {},
                           z_dim=req.z_dim, image_size=req.image_size, z_prior=req.z_prior)
    inputs.check()
    check_needs(inputs, evals, probes)
    from gansuite.engine.data import default_data_root
    from gansuite.engine.device import resolve_device
    from gansuite.engine.lock import RunLock

    data_root = default_data_root(Path(req.data_root) if req.data_root else None)
    if req.out.exists() and not req.out.is_dir():
        raise OptionError(f"--out {req.out} is a file, not a folder; choose another --out.")
    device = resolve_device(req.device)
    foreign = load_foreign(inputs, device, progress=req.progress)
    check_labels(foreign, evals, probes, probe_configs, datasets)
    folder = RunFolder(req.out)
    folder.path.mkdir(parents=True, exist_ok=True)
    with RunLock(folder.path):
        recorded = _prepare_folder(folder, foreign.sources)
        folder.samples.mkdir(parents=True, exist_ok=True)
        config = recorded or _config(req, foreign, evals, probes, datasets, data_root, device)
        if recorded is None:
            folder.write_config(config)
            _sample_grid(foreign.model, folder, req.seed)
        session = ForeignSession(
            catalog=catalog, folder=folder, model=foreign.model, model_spec=foreign.spec,
            model_config=foreign.config, config=config, data_root=data_root,
            allow_unverified=req.allow_unverified, seed=req.seed, progress=req.progress,
            dataset_configs=dataset_configs, foreign=foreign,
        )
        from gansuite.evaluation.evaluate import evaluate_session

        return evaluate_session(session, evals, probes, probe_configs)


def _config(req: ForeignRequest, foreign: Any, evals: Sequence[Any], probes: dict[str, Any],
            datasets: dict[str, Any], data_root: Path, device: Any) -> dict[str, Any]:
    model = foreign.model
    specs = [*evals, *probes.values(), *datasets.values(), *([foreign.spec] if foreign.known_architecture else [])]
    return {
        "foreign": True,
        "model": foreign.label,
        "model_config": config_dict(foreign.config) if foreign.config is not None else {},
        "weights_source": foreign.weights_source,
        "sources": foreign.sources,
        "dataset": evals[0].dataset,
        "evals": [e.name for e in evals],
        "image_size": model.image_size,
        "channels": model.channels,
        "z_dim": None if foreign.sources[0]["role"] == "samples" else model.z_dim,
        "z_prior": getattr(model, "z_prior", None),
        "data_root": str(data_root),
        "seed": req.seed,
        "device": req.device,
        "device_resolved": str(device),
        "allow_unverified": req.allow_unverified,
        "options": list(req.options),
        "versions": versions(),
        "plugins": plugin_versions(specs),
        "git_commit": git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _sample_grid(model: Any, folder: RunFolder, seed: int) -> None:
    """``samples/samples.png``: 64 of the model's images (fewer when a folder holds fewer)."""
    import torch

    from gansuite.contract.images import save_image_grid

    n = min(64, getattr(model, "n_images", 64))
    gen = torch.Generator().manual_seed(seed)
    z = model.sample_z(n, generator=gen)
    net = model.eval_generator()
    dev = next((t.device for t in (*net.parameters(), *net.buffers())), torch.device("cpu"))
    with torch.no_grad():
        x = model.generate(z.to(dev)).float().cpu()
    save_image_grid(x, folder.samples / "samples.png", nrow=8)
