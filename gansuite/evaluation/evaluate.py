"""Running eval presets: after training (:func:`run_evals`) or on an existing run (:func:`evaluate_run`).

For each eval the host builds the probe from its spec and typed config, and a
:class:`gansuite.contract.protocols.ProbeContext`: the trained model, a factory for a randomly
initialised model of the same spec and config (the control), a loader for the eval's dataset
splits (verified under the run's ``--allow-unverified`` policy, resized to the model's image
size and channel count), the device and an output folder for figures. Every row a probe
returns gets the run's provenance and is appended to ``results.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gansuite._host.manager import Catalog, get_catalog
from gansuite._host.options import build_config, config_dict, parse_pairs, split_overrides
from gansuite.contract.errors import DataError, OptionError
from gansuite.contract.protocols import ImageData, ProbeContext
from gansuite.contract.specs import EvalSpec, ModelSpec, ProbeSpec
from gansuite.engine.runfolder import RunFolder

if TYPE_CHECKING:
    from gansuite.contract.model import GANModel

__all__ = ["EvalSession", "evaluate_session", "evaluate_run", "PROVENANCE_KEYS"]

PROVENANCE_KEYS = ("run", "model", "dataset", "eval", "probe", "seed", "device", "precision", "versions", "plugins",
                   "data_verified", "unverified_files", "train_dataset", "train_data_verified", "step", "train_seconds",
                   "probe_config", "created")


@dataclass
class EvalSession:
    """What every eval of one run shares: the model, how to rebuild it, where data lives."""

    catalog: Catalog
    folder: RunFolder
    model: GANModel
    model_spec: ModelSpec
    model_config: Any
    config: dict[str, Any]
    data_root: Path
    allow_unverified: bool
    seed: int
    progress: bool = True
    dataset_configs: dict[str, Any] = field(default_factory=dict)
    _splits: dict[tuple[str, str], ImageData] = field(default_factory=dict)
    _verified: dict[str, Any] = field(default_factory=dict)

    # -- data -------------------------------------------------------------------------
    def _dataset(self, name: str) -> Any:
        from gansuite.engine.data import check_integrity

        spec = self.catalog.registry("datasets").get(name)
        config = self.dataset_configs.get(name)
        if config is None:
            config = build_config(spec, {})
        from gansuite.engine.build import plugin_call

        dataset = plugin_call(spec, "to open its data", spec.load_factory(), config, root=self.data_root)
        if name not in self._verified:
            verification = plugin_call(spec, "to verify its files", dataset.verify)
            check_integrity(name, verification, allow_unverified=self.allow_unverified)
            self._verified[name] = verification
        return dataset

    def load_split(self, dataset_name: str, split: str) -> ImageData:
        """One split of ``dataset_name`` at the model's size and channel count (cached)."""
        key = (dataset_name, split)
        if key not in self._splits:
            from gansuite.engine.build import plugin_call
            from gansuite.engine.checks import check_split

            dataset = self._dataset(dataset_name)
            if split not in tuple(dataset.splits):
                raise DataError(f"Dataset '{dataset_name}' has no split '{split}' "
                                f"(it has: {', '.join(dataset.splits)}).")
            spec = self.catalog.registry("datasets").get(dataset_name)
            data = plugin_call(spec, f"to load split '{split}'", dataset.load, split,
                               image_size=self.model.image_size)
            check_split(spec, split, data, image_size=self.model.image_size)
            self._splits[key] = _match_channels(data, self.model.channels, dataset_name)
        return self._splits[key]

    def verification(self, dataset_name: str) -> Any:
        if dataset_name not in self._verified:
            self._dataset(dataset_name)
        return self._verified[dataset_name]

    def random_model_factory(self, spec: EvalSpec) -> Callable[[int], GANModel]:
        """The control factory probes of ``spec`` get as ``ctx.make_random_model`` (a subclass may
        fit it to the eval's data)."""
        return self.make_random_model

    def extra_provenance(self) -> dict[str, Any]:
        """Fields every row of this session gets beside the run's provenance (none here)."""
        return {}

    def forget_data(self) -> None:
        """Drop cached splits (between evals on different datasets)."""
        self._splits.clear()

    # -- models -----------------------------------------------------------------------
    def make_random_model(self, seed: int) -> GANModel:
        """A fresh model of the same spec and config, initialised under ``seed``, on the same device."""
        import torch

        from gansuite.engine.build import build_model

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_model(self.model_spec, self.model_config, image_size=self.model.image_size,
                                channels=self.model.channels)
        model.to(_model_device(self.model))
        for net in (model.generator, model.discriminator, model.eval_generator()):
            net.eval()
        return model


def _match_channels(data: ImageData, channels: int, name: str) -> ImageData:
    have = int(data.images.shape[1])
    if have == channels:
        return data
    if have == 1 and channels == 3:
        images = data.images.expand(-1, 3, -1, -1).contiguous()
    elif have == 3 and channels == 1:
        import torch
        from torchvision.transforms.v2.functional import rgb_to_grayscale

        # in float, rounded: uint8 in torchvision truncates, and grey -> RGB -> grey must round-trip
        images = rgb_to_grayscale(data.images.float()).round_().clamp_(0, 255).to(torch.uint8)
    else:
        raise DataError(f"Dataset '{name}' has {have}-channel images but the model takes {channels}; "
                        "choose a model config with matching channels.")
    return ImageData(images=images, labels=data.labels, classes=data.classes,
                     meta={**data.meta, "channels_converted": f"{have}->{channels}"})


def _model_device(model: GANModel) -> Any:
    """The device of the discriminator's parameters (CPU for a parameterless model)."""
    import torch

    for p in model.discriminator.parameters():
        return p.device
    return torch.device("cpu")


def _step(session: EvalSession) -> int | None:
    """The training step of the evaluated weights: the checkpoint's, else the last logged step."""
    cfg = session.config
    for key in ("checkpoint_step", "step"):
        if cfg.get(key) is not None:
            return int(cfg[key])
    metrics = session.folder.read_metrics()
    return int(metrics[-1]["step"]) if metrics and "step" in metrics[-1] else None


def _provenance(session: EvalSession, spec: EvalSpec, probe: ProbeSpec, probe_config: Any) -> dict[str, Any]:
    cfg = session.config
    verification = session.verification(spec.dataset)
    plugins = dict(cfg.get("plugins") or {})
    for s in (probe, spec):
        if s.plugin is not None:
            plugins[s.plugin.name] = f"{s.plugin.distribution} {s.plugin.version}"
    return {
        "run": str(session.folder.path),
        "model": session.model_spec.name,
        "dataset": spec.dataset,
        "eval": spec.name,
        "probe": probe.name,
        "seed": session.seed,
        "device": str(_model_device(session.model)),
        "precision": cfg.get("precision_used") or cfg.get("precision"),
        "versions": cfg.get("versions") or {},
        "plugins": plugins,
        "data_verified": verification.verified,
        "unverified_files": list(verification.mismatched),
        "train_dataset": cfg.get("dataset"),
        "train_data_verified": cfg.get("data_verified"),
        "step": _step(session),
        "train_seconds": cfg.get("train_seconds"),  # training wall time of the evaluated weights
        "probe_config": config_dict(probe_config),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **session.extra_provenance(),
    }


def _run_one(session: EvalSession, spec: EvalSpec, probe_spec: ProbeSpec, probe_config: Any) -> list[dict[str, Any]]:
    from gansuite.engine.build import plugin_call
    from gansuite.engine.checks import check_probe_model, check_rows

    probe = plugin_call(probe_spec, "to build", probe_spec.load_factory(), probe_config)
    check_probe_model(probe_spec, probe, session.model)
    out_dir = session.folder.samples / spec.name
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = ProbeContext(
        model=session.model,
        make_random_model=session.random_model_factory(spec),
        eval=spec,
        load_split=lambda split: session.load_split(spec.dataset, split),
        device=_model_device(session.model),
        out_dir=out_dir,
        seed=session.seed,
        progress=session.progress,
    )
    start = time.perf_counter()
    rows = check_rows(probe_spec, plugin_call(probe_spec, f"in eval '{spec.name}'", probe.run, ctx))
    seconds = round(time.perf_counter() - start, 2)
    prov = _provenance(session, spec, probe_spec, probe_config)
    out = [{"eval": spec.name, "metric": row["metric"], "value": row["value"], **row, "eval_seconds": seconds, **prov}
           for row in rows]
    session.folder.add_results(out)
    return out


def evaluate_session(session: EvalSession, evals: Sequence[EvalSpec], probes: dict[str, ProbeSpec],
              probe_configs: dict[str, Any]) -> list[dict[str, Any]]:
    """Run ``evals`` in order on ``session``'s model; rows are appended to ``results.json``."""
    rows: list[dict[str, Any]] = []
    for i, spec in enumerate(evals):
        rows += _run_one(session, spec, probes[spec.probe], probe_configs[spec.name])
        nxt = evals[i + 1].dataset if i + 1 < len(evals) else None
        if nxt != spec.dataset:
            session.forget_data()
    return rows


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    """A config dict read back from JSON (lists where the dataclass has tuples)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def evaluate_run(
    run_dir: Path | str,
    eval_names: Sequence[str],
    *,
    data_root: Path | None = None,
    device: str = "auto",
    options: Sequence[str] = (),
    allow_unverified: bool = False,
    seed: int | None = None,
    progress: bool = True,
    catalog: Catalog | None = None,
) -> list[dict[str, Any]]:
    """Evaluate an existing run's latest checkpoint (no training); rows go to its ``results.json``.

    ``options`` are ``-o key=value`` pairs for the evals' probes and datasets.
    """
    catalog = catalog or get_catalog()
    folder = RunFolder(run_dir)
    recorded = folder.read_config()
    folder.read_results()  # a damaged results.json is reported before any work, not after it
    if not eval_names:
        raise OptionError("Name at least one --eval (run 'gansuite list evals').")
    evals = [catalog.registry("evals").get(name) for name in dict.fromkeys(eval_names)]
    probes = {e.probe: catalog.registry("probes").get(e.probe) for e in evals}
    datasets = {e.dataset: catalog.registry("datasets").get(e.dataset) for e in evals}
    plugins = recorded.get("plugins")
    model_spec = catalog.get_recorded("models", folder.config_value(recorded, "model", str),
                                      plugins if isinstance(plugins, dict) else None)
    routed = split_overrides(parse_pairs(options), [*probes.values(), *datasets.values()])
    probe_configs = {e.name: build_config(probes[e.probe], {**dict(e.params), **routed[e.probe]})
                     for e in evals}
    dataset_configs = {}
    for name, spec in datasets.items():
        base = (_typed(folder.config_value(recorded, "dataset_config", dict, {}))
                if name == recorded.get("dataset") else {})
        dataset_configs[name] = build_config(spec, {**base, **routed[name]})
    model_config = build_config(model_spec, _typed(folder.config_value(recorded, "model_config", dict, {})))
    recorded_seed = folder.config_value(recorded, "seed", int, 0)
    if seed is not None and not 0 <= seed < 2**63:
        raise OptionError(f"--seed must lie in [0, 2**63 - 1], got {seed}.")
    root = Path(data_root) if data_root else Path(folder.config_value(recorded, "data_root", str, "."))
    from gansuite.engine.build import load_run_model
    from gansuite.engine.lock import RunLock

    with RunLock(folder.path):  # results.json and samples/ get written: one writer at a time
        model, ckpt_config = load_run_model(Path(run_dir), device)
        config = {**recorded, **(ckpt_config or {})}
        session = EvalSession(
            catalog=catalog, folder=folder, model=model, model_spec=model_spec, model_config=model_config,
            config=config, data_root=root,
            allow_unverified=allow_unverified or bool(recorded.get("allow_unverified")),
            seed=recorded_seed if seed is None else seed, progress=progress,
            dataset_configs=dataset_configs,
        )
        return evaluate_session(session, evals, probes, probe_configs)

