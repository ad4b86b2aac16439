"""Cells of a study and what each needs next, validated with the planning code of ``gansuite run``.

A cell is one model x dataset x seed, trained into ``STUDY/runs/CELL`` by the ordinary command
line. What it needs next is read from its run folder alone, with ``gansuite run --resume``
semantics:

- no ``config.json``: **run** it;
- ``config.json`` but no checkpoint: **restart** it (the folder is removed, then run);
- a checkpoint but no result rows: **resume** it (``gansuite run --resume``);
- rows for some evals but not all (training finished, evals cut short): **evaluate** the
  missing ones (``gansuite eval``);
- rows for every eval (or, without evals, a finished attempt on record): **done**.

A model trained elsewhere (``generator = "G.pt"`` or ``images = "DIR"`` in its ``[[models]]``
table) is never trained: its cell **runs** (or later **evaluates**) ``gansuite eval --generator ...
--out CELL`` for the evals it lacks, and is **done** when every eval has rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gansuite._host.manager import Catalog
from gansuite._host.options import parse_pairs, route_overrides
from gansuite.contract.errors import GansuiteError
from gansuite.engine.checkpoint import list_checkpoints
from gansuite.engine.runfolder import RunFolder
from gansuite.runs.plan import RunRequest, plan_run
from gansuite.study.folder import CellInfo, StudyFolder
from gansuite.study.spec import ModelEntry, StudySpec

__all__ = ["Cell", "Action", "plan_cells", "next_action", "request_argv", "foreign_argv", "ACTIONS"]

ACTIONS = ("done", "run", "restart", "resume", "evaluate")


@dataclass(frozen=True)
class Cell:
    """One planned cell: its identity, its model entry and the request a fresh run makes."""

    info: CellInfo
    entry: ModelEntry
    request: RunRequest

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def run_dir(self) -> Path:
        assert self.request.out is not None
        return Path(self.request.out)


@dataclass(frozen=True)
class Action:
    """What a cell needs next and the ``gansuite`` arguments that do it (empty when done)."""

    kind: str
    argv: tuple[str, ...] = ()
    missing_evals: tuple[str, ...] = ()


def cell_request(spec: StudySpec, entry: ModelEntry, dataset: str, seed: int, out: Path,
                 *, model_options: bool = True) -> RunRequest:
    """The ``gansuite run`` request of one cell (``model_options=False``: the shared options only)."""
    run, budget = spec.run, spec.budget
    extra = {k: getattr(run, k) for k in ("checkpoint_every", "sample_every", "log_every")
             if getattr(run, k) is not None}
    return RunRequest(
        model=entry.name, dataset=dataset, evals=spec.evals, dedup=run.dedup,
        data_root=Path(run.data_root) if run.data_root else None, out=out, seed=seed,
        device=run.device, batch_size=run.batch_size, max_steps=budget.max_steps, epochs=budget.epochs,
        time_budget=budget.time_budget,
        options=run.options + (entry.options if model_options else ()),
        allow_unverified=run.allow_unverified, image_size=run.image_size, compile=run.compile,
        precision=run.precision, progress=False, **extra,
    )


def request_argv(req: RunRequest) -> tuple[str, ...]:
    """``gansuite run`` arguments for a fresh run of ``req`` (what a user would type)."""
    argv = ["run", "--model", str(req.model), "--dataset", str(req.dataset)]
    for name in req.evals:
        argv += ["--eval", name]
    argv += ["--seed", str(req.seed), "--out", str(req.out), "--device", req.device]
    argv += _budget_argv(req)
    defaults = RunRequest()
    for flag, key in (("--batch-size", "batch_size"), ("--image-size", "image_size"), ("--dedup", "dedup"),
                      ("--checkpoint-every", "checkpoint_every"), ("--sample-every", "sample_every"),
                      ("--log-every", "log_every"), ("--data-root", "data_root"), ("--precision", "precision")):
        value = getattr(req, key)
        if value is not None and value != getattr(defaults, key):
            argv += [flag, str(value)]
    for pair in req.options:
        argv += ["-o", pair]
    argv += ["--allow-unverified"] * req.allow_unverified + ["--compile"] * req.compile
    return (*argv, "--no-progress")


def _budget_argv(req: RunRequest) -> list[str]:
    argv: list[str] = []
    for flag, value in (("--max-steps", req.max_steps), ("--epochs", req.epochs),
                        ("--time-budget", req.time_budget)):
        if value is not None:
            argv += [flag, str(value)]
    return argv


def resume_request(req: RunRequest) -> RunRequest:
    """The ``gansuite run --resume`` request that continues ``req``'s run folder."""
    return RunRequest(resume=req.out, evals=req.evals, data_root=req.data_root, device=req.device,
                      max_steps=req.max_steps, epochs=req.epochs, time_budget=req.time_budget,
                      allow_unverified=req.allow_unverified, progress=False)


def _resume_argv(req: RunRequest) -> tuple[str, ...]:
    req = resume_request(req)
    argv = ["run", "--resume", str(req.resume), "--device", req.device, *_budget_argv(req)]
    for name in req.evals:
        argv += ["--eval", name]
    if req.data_root is not None:
        argv += ["--data-root", str(req.data_root)]
    return (*argv, *(["--allow-unverified"] * req.allow_unverified), "--no-progress")


def _eval_argv(req: RunRequest, evals: tuple[str, ...], eval_options: tuple[str, ...]) -> tuple[str, ...]:
    argv = ["eval", str(req.out), "--device", req.device]
    for name in evals:
        argv += ["--eval", name]
    for pair in eval_options:
        argv += ["-o", pair]
    if req.data_root is not None:
        argv += ["--data-root", str(req.data_root)]
    return (*argv, *(["--allow-unverified"] * req.allow_unverified), "--no-progress")


def foreign_argv(cell: Cell, evals: tuple[str, ...], eval_options: tuple[str, ...]) -> tuple[str, ...]:
    """``gansuite eval`` arguments that evaluate a model trained elsewhere into the cell's folder."""
    req, entry = cell.request, cell.entry
    argv = ["eval"]
    for flag, value in (("--generator", entry.generator), ("--discriminator", entry.discriminator),
                        ("--images", entry.images), ("--model", entry.name or None)):
        if value is not None:
            argv += [flag, value]
    argv += ["--out", str(req.out), "--seed", str(req.seed), "--device", req.device]
    for name in evals:
        argv += ["--eval", name]
    for pair in (*eval_options, *entry.options):
        argv += ["-o", pair]
    if req.data_root is not None:
        argv += ["--data-root", str(req.data_root)]
    return (*argv, *(["--allow-unverified"] * req.allow_unverified), "--no-progress")


def next_action(cell: Cell, study: StudyFolder, eval_options: tuple[str, ...] = ()) -> Action:
    """What ``cell`` needs next, read from its run folder (see the module docstring)."""
    req, folder = cell.request, RunFolder(cell.run_dir)
    if cell.entry.foreign:  # evaluated, never trained: run the evals it lacks
        if folder.exists() and study.finished(cell.id, req.evals):
            return Action("done")
        have = study.evals_with_rows(cell.id) if folder.exists() else set()
        missing = tuple(e for e in req.evals if e not in have)
        return Action("evaluate" if folder.exists() else "run", foreign_argv(cell, missing, eval_options), missing)
    if not folder.exists():
        return Action("run", request_argv(req))
    if study.finished(cell.id, req.evals):
        return Action("done")
    have = study.evals_with_rows(cell.id)
    missing = tuple(e for e in req.evals if e not in have)
    if have and missing:
        return Action("evaluate", _eval_argv(req, missing, eval_options), missing)
    if list_checkpoints(folder.checkpoints):
        return Action("resume", _resume_argv(req), missing)
    return Action("restart", request_argv(req), missing)


def _validate_names(spec: StudySpec, catalog: Catalog) -> None:
    checks = [(f"models[{i}].name", "models", m.name) for i, m in enumerate(spec.models) if m.name]
    checks += [(f"datasets[{i}]", "datasets", d) for i, d in enumerate(spec.datasets)]
    checks += [(f"evals[{i}]", "evals", e) for i, e in enumerate(spec.evals)]
    if spec.run.dedup:
        checks.append(("run.dedup", "dedup", spec.run.dedup))
    for where, kind, name in checks:
        try:
            catalog.registry(kind).get(name)
        except GansuiteError as exc:
            raise spec.fail(where, _one_line(exc)) from None


def _one_line(exc: Exception) -> str:
    return " ".join(line.strip() for line in str(exc).strip().splitlines())


def _plan(spec: StudySpec, catalog: Catalog, req: RunRequest, where: str) -> None:
    try:
        plan_run(req, catalog)
    except GansuiteError as exc:
        raise spec.fail(where, _one_line(exc)) from None


def _check_recorded(spec: StudySpec, cell: Cell) -> None:
    """An existing run folder must have been made from the same settings as the spec's."""
    config = RunFolder(cell.run_dir).read_config()
    req = cell.request
    wanted: list[tuple[str, str, Any, Any]] = [
        ("model", f"models[{spec.models.index(cell.entry)}].name", config.get("model"), req.model),
        ("dataset", "datasets", config.get("dataset"), req.dataset),
        ("seed", "seeds", config.get("seed"), req.seed),
        ("options", "options", sorted(config.get("options") or []), sorted(req.options)),
    ]
    for key in ("max_steps", "epochs", "time_budget"):
        wanted.append((key, f"budget.{key}", config.get(key), getattr(req, key)))
    for key, where, had, now in wanted:
        if key.startswith(("max_", "epochs", "time_")) and now is None:
            continue  # a budget the spec leaves out may have been the engine's default
        if had != now:
            raise spec.fail(where, f"cell {cell.id} was made with {key}={had!r} but the spec now says "
                            f"{now!r}; restore the spec or choose another --out for a new study.")


_NEED_WORDS = {"samples": "generated images", "generator": "a generator (z -> image)",
               "discriminator": "a discriminator"}


def _check_foreign_needs(spec: StudySpec, catalog: Catalog, index: int, cell_id: str) -> None:
    """A model trained elsewhere offers what its files give (samples; a generator; a
    discriminator): an eval whose probe needs more is refused here, before any cell runs."""
    entry = spec.models[index]
    have = {"samples"} if entry.images is not None else (
        {"samples", "generator"} | ({"discriminator"} if entry.discriminator is not None else set()))
    for name in spec.evals:
        probe = catalog.registry("probes").get(catalog.registry("evals").get(name).probe)
        missing = [n for n in probe.needs if n not in have]
        if missing:
            given = "a folder of samples (images)" if entry.images is not None else "a generator without a discriminator"
            fix = ('add discriminator = "D.pt"' if missing == ["discriminator"] and entry.images is None
                   else 'give generator = "G.pt"' + (' and discriminator = "D.pt"' if "discriminator" in missing else ""))
            raise spec.fail(f"models[{index}]", f"cell {cell_id}: eval '{name}' runs probe '{probe.name}', which "
                            f"needs {' and '.join(_NEED_WORDS[n] for n in missing)}, and the model is {given}; "
                            f"{fix}, or list that model in a study without eval '{name}'.")


def plan_cells(spec: StudySpec, study: StudyFolder, catalog: Catalog) -> list[Cell]:
    """Every cell of ``spec``, each validated before anything runs (raises :class:`SpecError`)."""
    _validate_names(spec, catalog)
    if not spec.evals and any(m.foreign for m in spec.models):
        raise spec.fail("evals", "empty, and a model trained elsewhere is only evaluated; list its evals.")
    cells: list[Cell] = []
    for i, entry in enumerate(spec.models):
        for dataset in spec.datasets:
            for seed in spec.seeds:
                cell_id = f"{entry.label}-{dataset}-seed{seed}"
                info = CellInfo(id=cell_id, label=entry.label, model=entry.name or entry.label, dataset=dataset,
                                seed=seed)
                run_dir = study.run_dir(cell_id)
                cell = Cell(info, entry, cell_request(spec, entry, dataset, seed, run_dir))
                if entry.foreign:  # the folder is checked by 'gansuite eval', which refuses another model's
                    _check_foreign_needs(spec, catalog, i, cell_id)
                    cells.append(cell)
                    continue
                if RunFolder(run_dir).exists():
                    _check_recorded(spec, cell)
                    _plan(spec, catalog, resume_request(cell.request), f"cell {cell_id}")
                else:
                    shared = cell_request(spec, entry, dataset, seed, run_dir, model_options=False)
                    _plan(spec, catalog, shared, "run")
                    _plan(spec, catalog, cell.request, f"models[{i}].options")
                cells.append(cell)
    return cells


def eval_options(spec: StudySpec, catalog: Catalog) -> tuple[str, ...]:
    """The shared options a later ``gansuite eval`` accepts: those of the evals' probes and datasets."""
    specs: list[Any] = []
    for name in spec.evals:
        ev = catalog.registry("evals").get(name)
        specs += [catalog.registry("probes").get(ev.probe), catalog.registry("datasets").get(ev.dataset)]
    specs = list({s.name: s for s in specs}.values())
    kept = []
    for pair in spec.run.options:
        routed, errors = route_overrides(parse_pairs([pair]), specs)
        if not errors and any(routed.values()):
            kept.append(pair)
    return tuple(kept)
