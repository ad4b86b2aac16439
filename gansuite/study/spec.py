"""A study spec: a TOML file read into frozen dataclasses, every field checked by name.

```toml
name = "NAME"                   # optional (default: the file's stem)
out = "studies/NAME"            # optional study folder (default: studies/NAME); --out wins
seeds = [0, 1, 2]               # or a count: seeds = 3 means 0, 1, 2
datasets = ["DATASET"]
evals = ["EVAL"]                # may be empty

[budget]                        # at least one; the same for every cell
max_steps = 100                 # epochs = 1.0, time_budget = 60.0

[run]                           # `gansuite run` settings every cell gets
device = "cpu"                  # batch_size, image_size, checkpoint_every, sample_every,
options = ["PROBE.KEY=VALUE"]   # log_every, data_root, allow_unverified, compile, dedup, precision

[[models]]                      # one table per model
name = "MODEL"
label = "MODEL-narrow"          # optional, unique (default: name)
options = { KEY = 32 }          # -o MODEL.KEY=VALUE for this model only

[[models]]                      # a model trained elsewhere: evaluated, never trained
label = "theirs"                # required here
generator = "G.pt"              # TorchScript / torch.export, or a state dict with name = MODEL
discriminator = "D.pt"          # optional; images = "samples/" instead scores a folder of samples

[executor]                      # optional; the command line's --executor and --jobs win
kind = "local"                  # local, slurm, submitit-local or submitit-debug
jobs = 2                        # local: cells at a time
submitit = { timeout_min = 120, slurm_partition = "gpu" }   # submitit.update_parameters
```
Parsing checks shapes and types only; names and options are checked against the registries
by :mod:`gansuite.study.plan`, with the same planning code ``gansuite run`` uses.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gansuite.contract.errors import OptionError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["SpecError", "ModelEntry", "Budget", "RunSettings", "ExecutorSettings", "StudySpec",
           "load_spec", "parse_spec", "EXECUTOR_KINDS"]

EXECUTOR_KINDS = ("local", "slurm", "submitit-local", "submitit-debug")
LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_TOP = ("name", "out", "seeds", "datasets", "evals", "budget", "run", "models", "executor")
_BUDGET = {"max_steps": int, "epochs": float, "time_budget": float}
_RUN: dict[str, Any] = {"device": str, "batch_size": int, "image_size": int, "checkpoint_every": int,
        "sample_every": int, "log_every": int, "data_root": str, "allow_unverified": bool,
        "compile": bool, "dedup": str, "precision": str, "options": "options"}
_MODEL = ("name", "label", "options", "generator", "discriminator", "images")
_EXECUTOR = ("kind", "jobs", "submitit")


class SpecError(OptionError):
    """A study spec that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class ModelEntry:
    """One model of the study: a registered name, its label in tables and its options; or a model
    trained elsewhere (``generator`` [+ ``discriminator``], or ``images``), evaluated as
    ``gansuite eval --generator ...`` does (``name``: the architecture of state-dict files, or "")."""

    name: str
    label: str
    options: tuple[str, ...] = ()
    generator: str | None = None
    discriminator: str | None = None
    images: str | None = None

    @property
    def foreign(self) -> bool:
        """True for a model trained elsewhere (files, not a registered model to train)."""
        return self.generator is not None or self.images is not None


@dataclass(frozen=True)
class Budget:
    max_steps: int | None = None
    epochs: float | None = None
    time_budget: float | None = None


@dataclass(frozen=True)
class RunSettings:
    device: str = "auto"
    batch_size: int | None = None
    image_size: int | None = None
    checkpoint_every: int | None = None
    sample_every: int | None = None
    log_every: int | None = None
    data_root: str | None = None
    allow_unverified: bool = False
    compile: bool = False
    dedup: str | None = None
    precision: str = "auto"
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExecutorSettings:
    kind: str = "local"
    jobs: int | None = None
    submitit: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class StudySpec:
    """A parsed spec; ``source`` is the file it came from (for messages)."""

    name: str
    source: str
    seeds: tuple[int, ...]
    datasets: tuple[str, ...]
    evals: tuple[str, ...]
    models: tuple[ModelEntry, ...]
    budget: Budget
    run: RunSettings = field(default_factory=RunSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    out: str | None = None

    def fail(self, where: str, message: str) -> SpecError:
        return SpecError(f"{self.source}: {where}: {message}")


def load_spec(path: Path | str) -> StudySpec:
    """Read and check a spec file; raises :class:`SpecError` naming the bad field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"Cannot read the study spec {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path} is not UTF-8 text (byte {exc.start}): a study spec is a TOML file; "
                        "save it as UTF-8.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}.") from None
    return parse_spec(data, source=str(path), default_name=path.stem)


def _fail(source: str, where: str, message: str) -> SpecError:
    return SpecError(f"{source}: {where}: {message}")


def _check_keys(source: str, where: str, table: Mapping[str, Any], allowed: tuple[str, ...] | Mapping) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, list(allowed), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else f" Expected: {', '.join(allowed)}."
            raise _fail(source, f"{where}{key}", f"unknown key.{hint}")


def _typed(source: str, where: str, value: Any, tp: type) -> Any:
    ok = isinstance(value, tp) and not (tp is not bool and isinstance(value, bool))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise _fail(source, where, f"expected {tp.__name__}, got {value!r}.")
    return value


def _names(source: str, where: str, value: Any, required: bool) -> tuple[str, ...]:
    if value is None and not required:
        return ()
    if value is None:
        raise _fail(source, where, "missing; list at least one name.")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(source, where, f"expected a list of names, got {value!r}.")
    if required and not value:
        raise _fail(source, where, "empty; list at least one name.")
    if len(set(value)) != len(value):
        raise _fail(source, where, "lists a name twice.")
    return tuple(value)


def _seeds(source: str, value: Any) -> tuple[int, ...]:
    if value is None:
        raise _fail(source, "seeds", "missing; give a list of seeds (seeds = [0, 1, 2]) or a count.")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return tuple(range(value))
    if (isinstance(value, list) and value and len(set(value)) == len(value)
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)):
        return tuple(value)
    raise _fail(source, "seeds", f"expected distinct non-negative integers or a positive count, got {value!r}.")


def _options(source: str, where: str, value: Any, prefix: str = "") -> tuple[str, ...]:
    """``["k=v"]`` or ``{k = v}`` -> ``("PREFIXk=v",)`` (lists become comma-separated)."""
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) and "=" in v for v in value):
        pairs = [tuple(v.split("=", 1)) for v in value]
    elif isinstance(value, dict):
        pairs = [(k, _option_text(source, f"{where}.{k}", v)) for k, v in value.items()]
    else:
        raise _fail(source, where, f"expected a table (ngf = 32) or a list of 'key=value', got {value!r}.")
    return tuple(f"{'' if '.' in k else prefix}{k.strip()}={v.strip()}" for k, v in pairs)


def _option_text(source: str, where: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (int, float, str)) for v in value):
        return ",".join(str(v) for v in value)
    raise _fail(source, where, f"expected a number, text or a list of them, got {value!r}.")


def _models(source: str, value: Any) -> tuple[ModelEntry, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(source, "models", "missing; add one [[models]] table per model (name = \"...\").")
    out: list[ModelEntry] = []
    for i, entry in enumerate(value):
        where = f"models[{i}]"
        if not isinstance(entry, dict):
            raise _fail(source, where, "expected a table ([[models]] with name = \"...\").")
        _check_keys(source, f"{where}.", entry, _MODEL)
        files = {k: _typed(source, f"{where}.{k}", entry[k], str)
                 for k in ("generator", "discriminator", "images") if k in entry}
        if files and ("generator" in files) == ("images" in files):
            raise _fail(source, where, "give generator = \"FILE\" (and discriminator) or images = \"PATH\", not both.")
        if "discriminator" in files and "generator" not in files:
            raise _fail(source, f"{where}.discriminator", "needs generator = \"FILE\" beside it.")
        if "name" not in entry and not files:
            raise _fail(source, f"{where}.name", "missing; name a registered model (gansuite list models), or "
                        "give generator = \"FILE\" / images = \"PATH\" for a model trained elsewhere.")
        if files and "label" not in entry:
            raise _fail(source, f"{where}.label", "missing; a model trained elsewhere needs a label for its cells.")
        name = _typed(source, f"{where}.name", entry.get("name", ""), str)
        label = _typed(source, f"{where}.label", entry.get("label", name), str)
        if not LABEL_RE.match(label):
            raise _fail(source, f"{where}.label", f"{label!r} must be lowercase letters, digits, '.', '_' or '-'.")
        if any(m.label == label for m in out):
            raise _fail(source, f"{where}.label", f"'{label}' is used twice; give each entry its own label.")
        out.append(ModelEntry(name=name, label=label,
                              options=_options(source, f"{where}.options", entry.get("options"),
                                               f"{name}." if name else ""),
                              **files))
    return tuple(out)


def _budget(source: str, value: Any) -> Budget:
    if not isinstance(value, dict) or not any(k in value for k in _BUDGET):
        raise _fail(source, "budget", "missing; set max_steps, epochs or time_budget in a [budget] table.")
    _check_keys(source, "budget.", value, _BUDGET)
    typed = {k: _typed(source, f"budget.{k}", v, _BUDGET[k]) for k, v in value.items()}
    for k, v in typed.items():
        if v <= 0:
            raise _fail(source, f"budget.{k}", f"must be positive, got {v}.")
    return Budget(**typed)


def _run(source: str, value: Any) -> RunSettings:
    if value is None:
        return RunSettings()
    if not isinstance(value, dict):
        raise _fail(source, "run", "expected a [run] table.")
    _check_keys(source, "run.", value, _RUN)
    typed: dict[str, Any] = {}
    for key, raw in value.items():
        tp = _RUN[key]
        typed[key] = _options(source, "run.options", raw) if tp == "options" else _typed(source, f"run.{key}", raw, tp)
    return RunSettings(**typed)


def _executor(source: str, value: Any) -> ExecutorSettings:
    if value is None:
        return ExecutorSettings()
    if not isinstance(value, dict):
        raise _fail(source, "executor", "expected an [executor] table.")
    _check_keys(source, "executor.", value, _EXECUTOR)
    kind = _typed(source, "executor.kind", value.get("kind", "local"), str)
    if kind not in EXECUTOR_KINDS:
        raise _fail(source, "executor.kind", f"unknown executor '{kind}'; choose one of {', '.join(EXECUTOR_KINDS)}.")
    jobs = value.get("jobs")
    if jobs is not None and (_typed(source, "executor.jobs", jobs, int) <= 0):
        raise _fail(source, "executor.jobs", f"must be a positive integer, got {jobs}.")
    params = value.get("submitit", {})
    if not isinstance(params, dict):
        raise _fail(source, "executor.submitit", "expected a table of submitit parameters.")
    return ExecutorSettings(kind=kind, jobs=jobs, submitit=tuple(sorted(params.items())))


def parse_spec(data: Mapping[str, Any], *, source: str = "<spec>", default_name: str = "study") -> StudySpec:
    """Check the parsed TOML ``data`` (see the module docstring for the layout)."""
    _check_keys(source, "", data, _TOP)
    name = _typed(source, "name", data.get("name", default_name), str)
    if not LABEL_RE.match(name):
        raise _fail(source, "name", f"{name!r} must be lowercase letters, digits, '.', '_' or '-'.")
    out = data.get("out")
    return StudySpec(
        name=name, source=source, seeds=_seeds(source, data.get("seeds")),
        datasets=_names(source, "datasets", data.get("datasets"), required=True),
        evals=_names(source, "evals", data.get("evals"), required=False),
        models=_models(source, data.get("models")), budget=_budget(source, data.get("budget")),
        run=_run(source, data.get("run")), executor=_executor(source, data.get("executor")),
        out=None if out is None else _typed(source, "out", out, str),
    )
