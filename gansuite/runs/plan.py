"""``gansuite run``'s request and plan: names resolved, options typed, paths decided.

No click, no printing, no torch: the CLI builds a :class:`RunRequest` and :func:`plan_run`
checks every name and option before anything heavy is imported.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gansuite import __version__
from gansuite.engine.data import default_data_root
from gansuite.engine.runfolder import RunFolder
from gansuite.plugin.errors import OptionError
from gansuite.plugin.manager import Catalog, get_catalog
from gansuite.plugin.options import build_config, build_configs, config_dict, parse_pairs, split_overrides
from gansuite.plugin.specs import DatasetSpec, DedupSpec, EvalSpec, ModelSpec, ProbeSpec, Spec

__all__ = ["RunRequest", "RunPlan", "plan_run", "is_main_process", "default_data_root", "DEFAULT_TIME_BUDGET"]

DEFAULT_TIME_BUDGET = 600.0


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for, as typed on the command line (names, not objects)."""

    model: str | None = None
    dataset: str | None = None
    evals: tuple[str, ...] = ()
    dedup: str | None = None
    data_root: Path | None = None
    out: Path | None = None
    seed: int = 0
    device: str = "auto"
    batch_size: int | None = None
    max_steps: int | None = None
    epochs: float | None = None
    time_budget: float | None = None
    resume: Path | None = None
    options: tuple[str, ...] = ()
    allow_unverified: bool = False
    checkpoint_every: int = 500
    sample_every: int = 500
    log_every: int = 10
    image_size: int | None = None
    compile: bool = False
    progress: bool = True
    precision: str = "auto"


@dataclass
class RunPlan:
    """A validated request: specs resolved, configs typed, paths decided."""

    request: RunRequest
    model: ModelSpec
    model_config: Any
    dataset: DatasetSpec
    dataset_config: Any
    evals: list[EvalSpec]
    probes: dict[str, ProbeSpec]
    probe_configs: dict[str, Any]
    dedup: DedupSpec | None
    dedup_config: Any
    data_root: Path
    out: Path
    max_steps: int | None
    epochs: float | None
    time_budget: float | None
    resuming: bool = False

    def specs(self) -> list[Spec]:
        used: list[Spec] = [self.model, self.dataset, *self.evals, *self.probes.values()]
        if self.dedup is not None:
            used.append(self.dedup)
        return used

    def config_json(self, *, image_size: int, batch_size: int) -> dict[str, Any]:
        """What ``config.json`` records (also the basis of every checkpoint's config)."""
        req = self.request
        return {
            "gansuite_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "model": self.model.name,
            "model_config": config_dict(self.model_config),
            "dataset": self.dataset.name,
            "dataset_config": config_dict(self.dataset_config),
            "evals": [e.name for e in self.evals],
            "probe_configs": {k: config_dict(v) for k, v in self.probe_configs.items()},
            "dedup": self.dedup.name if self.dedup else None,
            "dedup_config": config_dict(self.dedup_config),
            "data_root": str(self.data_root),
            "image_size": image_size,
            "batch_size": batch_size,
            "max_steps": self.max_steps,
            "epochs": self.epochs,
            "time_budget": self.time_budget,
            "seed": req.seed,
            "device": req.device,
            "allow_unverified": req.allow_unverified,
            "checkpoint_every": req.checkpoint_every,
            "sample_every": req.sample_every,
            "log_every": req.log_every,
            "compile": req.compile,
            "precision": req.precision,
            "options": list(req.options),
            "versions": versions(),
            "plugins": plugin_versions(self.specs()),
            "git_commit": git_commit(),
        }


def is_main_process() -> bool:
    """False on every torchrun rank but 0 (only rank 0 writes files and prints)."""
    return os.environ.get("RANK", "0") == "0"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "gansuite": __version__}
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return out


def plugin_versions(specs: list[Spec]) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in specs:
        if spec.plugin is not None:
            out[spec.plugin.name] = f"{spec.plugin.distribution} {spec.plugin.version}"
    return out


def git_commit() -> str | None:
    """The commit of the working directory's repository, when there is one."""
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def _check_request(req: RunRequest) -> None:
    errors = []
    for flag, value in (("--max-steps", req.max_steps), ("--batch-size", req.batch_size),
                        ("--checkpoint-every", req.checkpoint_every), ("--sample-every", req.sample_every)):
        if value is not None and value <= 0:
            errors.append(f"{flag} must be a positive integer, got {value}.")
    for flag, fvalue in (("--epochs", req.epochs), ("--time-budget", req.time_budget)):
        if fvalue is not None and fvalue <= 0:
            errors.append(f"{flag} must be positive, got {fvalue}.")
    if req.device not in {"cpu", "cuda", "auto"}:
        errors.append(f"--device must be cpu, cuda or auto, got {req.device!r}.")
    if req.precision not in ("auto", "fp32", "bf16"):
        errors.append(f"--precision must be auto, fp32 or bf16, got {req.precision!r}.")
    if errors:
        raise OptionError("\n".join(errors))


def _request_from_resume(req: RunRequest) -> RunRequest:
    """Merge a ``--resume RUN_DIR`` request with the run's recorded config."""
    assert req.resume is not None
    conflicting = [flag for flag, value in (("--model", req.model), ("--dataset", req.dataset),
                   ("--dedup", req.dedup), ("-o", req.options), ("--out", req.out)) if value]
    if conflicting:
        raise OptionError(
            f"--resume continues a run with its recorded settings; drop {', '.join(conflicting)} "
            "(only --max-steps, --epochs, --time-budget, --device and --eval may change)."
        )
    cfg = RunFolder(req.resume).read_config()
    return replace(
        req,
        model=cfg["model"],
        dataset=cfg["dataset"],
        dedup=cfg.get("dedup"),
        evals=req.evals or tuple(cfg.get("evals", ())),
        data_root=Path(cfg["data_root"]) if req.data_root is None else req.data_root,
        out=req.resume,
        seed=cfg["seed"],
        batch_size=cfg["batch_size"],
        precision=cfg.get("precision", req.precision),
        image_size=cfg["image_size"],
        options=tuple(cfg.get("options", ())),
        allow_unverified=req.allow_unverified or bool(cfg.get("allow_unverified")),
        max_steps=req.max_steps if req.max_steps is not None else cfg.get("max_steps"),
        epochs=req.epochs if req.epochs is not None else cfg.get("epochs"),
        time_budget=req.time_budget if req.time_budget is not None else cfg.get("time_budget"),
        checkpoint_every=cfg.get("checkpoint_every", req.checkpoint_every),
        sample_every=cfg.get("sample_every", req.sample_every),
        log_every=cfg.get("log_every", req.log_every),
    )


def plan_run(req: RunRequest, catalog: Catalog | None = None) -> RunPlan:
    """Validate ``req`` against the registries; raises :class:`GansuiteError` subclasses."""
    catalog = catalog or get_catalog()
    resuming = req.resume is not None
    if resuming:
        req = _request_from_resume(req)
    _check_request(req)
    if not req.model:
        raise OptionError("Missing --model. Run 'gansuite list models' to see the choices.")
    model = catalog.registry("models").get(req.model)
    evals = [catalog.registry("evals").get(name) for name in dict.fromkeys(req.evals)]
    dataset_name = req.dataset
    if dataset_name is None:
        implied = sorted({e.dataset for e in evals})
        if len(implied) > 1:
            raise OptionError(
                f"The evals {', '.join(e.name for e in evals)} use different datasets "
                f"({', '.join(implied)}); pass --dataset to choose the training data."
            )
        if not implied:
            raise OptionError("Missing --dataset (or an --eval that implies one). "
                              "Run 'gansuite list datasets'.")
        dataset_name = implied[0]
    dataset = catalog.registry("datasets").get(dataset_name)
    probes = {e.probe: catalog.registry("probes").get(e.probe) for e in evals}
    for e in evals:
        catalog.registry("datasets").get(e.dataset)
    dedup = catalog.registry("dedup").get(req.dedup) if req.dedup else None

    used: list[Spec] = [model, dataset, *probes.values()] + ([dedup] if dedup else [])
    configs = build_configs(used, parse_pairs(req.options))
    model_config, dataset_config = configs[model.name], configs[dataset.name]
    dedup_config = configs[dedup.name] if dedup else None
    probe_configs = {}
    for e in evals:  # an eval's params are typed defaults; the user's -o values win
        user = split_overrides(parse_pairs(req.options), used)[e.probe]
        probe_configs[e.name] = build_config(probes[e.probe], {**dict(e.params), **user})

    max_steps, epochs, budget = req.max_steps, req.epochs, req.time_budget
    if max_steps is None and epochs is None and budget is None:
        budgets = [e.train_budget for e in evals if e.train_budget is not None]
        budget = max(budgets) if budgets else DEFAULT_TIME_BUDGET
    if req.out is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise OptionError("Under torchrun pass --out RUN_DIR, so every process writes to the same run folder.")
    out = Path(req.out) if req.out else Path("runs") / f"{model.name}-{dataset.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not resuming and RunFolder(out).exists() and is_main_process():  # torchrun: rank 0 checks
        raise OptionError(f"{out} already holds a run; pass --resume {out} to continue it, "
                          "or choose another --out.")
    return RunPlan(
        request=req, model=model, model_config=model_config, dataset=dataset,
        dataset_config=dataset_config, evals=evals, probes=probes, probe_configs=probe_configs,
        dedup=dedup, dedup_config=dedup_config, data_root=default_data_root(req.data_root),
        out=out, max_steps=max_steps,
        epochs=epochs, time_budget=budget, resuming=resuming,
    )


