"""``gansuite run``'s request and plan: names resolved, options typed, paths decided.

No click, no printing, no torch: the CLI builds a :class:`RunRequest` and :func:`plan_run`
checks every name and option before anything heavy is imported.
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gansuite import __version__
from gansuite._host.manager import Catalog, get_catalog
from gansuite._host.options import build_config, build_configs, config_dict, parse_pairs, split_overrides
from gansuite.contract.errors import CheckpointError, OptionError
from gansuite.contract.specs import DatasetSpec, DedupSpec, EvalSpec, ModelSpec, ProbeSpec, Spec
from gansuite.engine.data import default_data_root
from gansuite.engine.runfolder import RunFolder

__all__ = ["RunRequest", "RunPlan", "plan_run", "is_main_process", "default_data_root", "DEFAULT_TIME_BUDGET",
           "DEFAULTS", "MAX_SEED", "check_new_out"]

DEFAULT_TIME_BUDGET = 600.0
# What a request's None means for a new run (a resumed or restarted run keeps its recorded values).
DEFAULTS = {"seed": 0, "checkpoint_every": 500, "sample_every": 500, "log_every": 10}
MAX_SEED = 2**63 - 1
# --resume/--restart take these from config.json; giving them would be silently ignored, so refuse.
_RECORDED_FLAGS = (("--model", "model"), ("--dataset", "dataset"), ("--dedup", "dedup"), ("-o", "options"),
                   ("--out", "out"), ("--seed", "seed"), ("--batch-size", "batch_size"),
                   ("--image-size", "image_size"), ("--checkpoint-every", "checkpoint_every"),
                   ("--sample-every", "sample_every"), ("--log-every", "log_every"))


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for, as typed on the command line (names, not objects)."""

    model: str | None = None
    dataset: str | None = None
    evals: tuple[str, ...] = ()
    dedup: str | None = None
    data_root: Path | None = None
    out: Path | None = None
    seed: int | None = None
    device: str = "auto"
    batch_size: int | None = None
    max_steps: int | None = None
    epochs: float | None = None
    time_budget: float | None = None
    resume: Path | None = None
    options: tuple[str, ...] = ()
    allow_unverified: bool = False
    checkpoint_every: int | None = None
    sample_every: int | None = None
    log_every: int | None = None
    image_size: int | None = None
    compile: bool = False
    progress: bool = True
    precision: str = "auto"
    restart: Path | None = None
    max_loss: float | None = None

    def setting(self, name: str) -> int:
        """``seed``/``checkpoint_every``/``sample_every``/``log_every``, its default when not given."""
        value = getattr(self, name)
        return int(DEFAULTS[name] if value is None else value)


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
    restarting: bool = False

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
            "seed": req.setting("seed"),
            "device": req.device,
            "allow_unverified": req.allow_unverified,
            "checkpoint_every": req.setting("checkpoint_every"),
            "sample_every": req.setting("sample_every"),
            "log_every": req.setting("log_every"),
            "compile": req.compile,
            "precision": req.precision,
            "max_loss": req.max_loss,
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
                        ("--checkpoint-every", req.checkpoint_every), ("--sample-every", req.sample_every),
                        ("--log-every", req.log_every), ("--image-size", req.image_size)):
        if value is not None and value <= 0:
            errors.append(f"{flag} must be a positive integer, got {value}.")
    for flag, fvalue in (("--epochs", req.epochs), ("--time-budget", req.time_budget)):
        if fvalue is not None and not (math.isfinite(fvalue) and fvalue > 0):
            errors.append(f"{flag} must be a positive finite number, got {fvalue}.")
    if req.max_loss is not None and not req.max_loss > 0:  # inf: no bound; NaN fails this test
        errors.append(f"--max-loss must be positive (inf: no bound), got {req.max_loss}.")
    if req.seed is not None and not 0 <= req.seed <= MAX_SEED:
        errors.append(f"--seed must lie in [0, 2**63 - 1], got {req.seed}.")
    if req.device not in {"cpu", "cuda", "auto"}:
        errors.append(f"--device must be cpu, cuda or auto, got {req.device!r}.")
    if req.precision not in ("auto", "fp32", "bf16"):
        errors.append(f"--precision must be auto, fp32 or bf16, got {req.precision!r}.")
    if req.resume is not None and req.restart is not None:
        errors.append("--resume continues a run and --restart starts one again from step 0; pass one of them.")
    if errors:
        raise OptionError("\n".join(errors))


def _request_from_recorded(req: RunRequest, run_dir: Path, flag: str) -> RunRequest:
    """Merge a ``--resume``/``--restart RUN_DIR`` request with the run's recorded config."""
    given = [name for name, attr in _RECORDED_FLAGS if getattr(req, attr) not in (None, ())]
    if given:
        raise OptionError(
            f"{flag} uses the run's recorded settings; drop {', '.join(given)}, which would be ignored "
            "(only --max-steps, --epochs, --time-budget, --max-loss, --device, --data-root and --eval "
            "may change)."
        )
    folder = RunFolder(run_dir)
    cfg = folder.read_config()

    def get(key: str, kind: type | tuple[type, ...], default: Any = None, required: bool = False) -> Any:
        return folder.config_value(cfg, key, kind) if required else folder.config_value(cfg, key, kind, default)

    options = get("options", list, [])
    evals = get("evals", list, [])
    if not all(isinstance(o, str) for o in [*options, *evals]):
        raise CheckpointError(f"{folder.config_path}: 'options' and 'evals' should be lists of "
                              "strings; the file is damaged.")
    number = (int, float)
    return replace(
        req,
        model=get("model", str, required=True),
        dataset=get("dataset", str, required=True),
        dedup=get("dedup", str, None),
        evals=req.evals or tuple(evals),
        data_root=Path(get("data_root", str, required=True)) if req.data_root is None else req.data_root,
        out=run_dir,
        seed=get("seed", int, required=True),
        batch_size=get("batch_size", int, required=True),
        precision=get("precision", str, req.precision),
        image_size=get("image_size", int, required=True),
        options=tuple(options),
        allow_unverified=req.allow_unverified or bool(cfg.get("allow_unverified")),
        max_steps=req.max_steps if req.max_steps is not None else get("max_steps", int, None),
        epochs=req.epochs if req.epochs is not None else get("epochs", number, None),
        time_budget=req.time_budget if req.time_budget is not None else get("time_budget", number, None),
        max_loss=req.max_loss if req.max_loss is not None else get("max_loss", number, None),
        checkpoint_every=get("checkpoint_every", int, DEFAULTS["checkpoint_every"]),
        sample_every=get("sample_every", int, DEFAULTS["sample_every"]),
        log_every=get("log_every", int, DEFAULTS["log_every"]),
    )


def check_new_out(out: Path, *, lock_checked: bool = False) -> None:
    """A new run's folder must be absent or empty: never mixed with another run or other files.
    ``lock_checked``: the caller holds the folder's lock (else a writer holding it is named)."""
    from gansuite.engine.lock import RunLock

    folder = RunFolder(out)
    if out.exists() and not out.is_dir():
        raise OptionError(f"--out {out} is a file, not a folder; choose another --out.")
    inside = next((p for p in Path(out).resolve().parents if RunFolder(p).exists()), None)
    if inside is not None:
        raise OptionError(f"--out {out} lies inside the run folder {inside}; a run never writes into another "
                          "run's folder, so choose an --out outside it.")
    if not lock_checked:
        RunLock(out).check_free()  # a folder being written: name the writer, not what it holds so far
    if folder.exists():
        if not folder.has_checkpoint():
            raise OptionError(f"{out} holds a run that stopped before its first checkpoint; start it "
                              f"again from step 0 with 'gansuite run --restart {out}', or choose another --out.")
        raise OptionError(f"{out} already holds a run; pass --resume {out} to continue it, "
                          "or choose another --out.")
    entries = folder.foreign_entries()
    if entries:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise OptionError(f"--out {out} is a folder that is not empty ({shown}); a new run needs a new "
                          "or empty folder, so choose another --out.")


def plan_run(req: RunRequest, catalog: Catalog | None = None) -> RunPlan:
    """Validate ``req`` against the registries; raises :class:`GansuiteError` subclasses."""
    catalog = catalog or get_catalog()
    _check_request(req)
    resuming, restarting = req.resume is not None, req.restart is not None
    if req.out is not None and not str(req.out).strip():
        raise OptionError("--out is empty; name the run folder (or leave --out out for runs/MODEL-DATASET-TIME).")
    if req.resume is not None:
        req = _request_from_recorded(req, req.resume, "--resume")
    elif req.restart is not None:
        req = _request_from_recorded(req, req.restart, "--restart")
    req = replace(req, seed=req.setting("seed"), checkpoint_every=req.setting("checkpoint_every"),
                  sample_every=req.setting("sample_every"), log_every=req.setting("log_every"))
    _check_request(req)
    if not req.model:
        raise OptionError("Missing --model. Run 'gansuite list models' to see the choices.")
    recorded = RunFolder(req.out).read_config().get("plugins") if (resuming or restarting) and req.out else None
    recorded = recorded if isinstance(recorded, dict) else None
    model = catalog.get_recorded("models", req.model, recorded)
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
    dataset = catalog.get_recorded("datasets", dataset_name, recorded)
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
        steps = [e.train_steps for e in evals if e.train_steps is not None]
        budgets = [e.train_budget for e in evals if e.train_budget is not None]
        if steps:
            max_steps = max(steps)
        else:
            budget = max(budgets) if budgets else DEFAULT_TIME_BUDGET
    if req.out is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise OptionError("Under torchrun pass --out RUN_DIR, so every process writes to the same run folder.")
    out = Path(req.out) if req.out else Path("runs") / f"{model.name}-{dataset.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not resuming and not restarting and is_main_process():  # torchrun: rank 0 checks
        check_new_out(out)
    return RunPlan(
        request=req, model=model, model_config=model_config, dataset=dataset,
        dataset_config=dataset_config, evals=evals, probes=probes, probe_configs=probe_configs,
        dedup=dedup, dedup_config=dedup_config, data_root=default_data_root(req.data_root),
        out=out, max_steps=max_steps,
        epochs=epochs, time_budget=budget, resuming=resuming, restarting=restarting,
    )


