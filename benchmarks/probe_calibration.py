"""Regenerate docs/probe-calibration.md: every probe on a trained run next to its controls.

For each run given (a copy is evaluated: ``gansuite eval`` appends to ``results.json``), runs the
dataset's eval presets of the svm, kid, latent-walk, memorization and arithmetic probes through
the real command line (``gansuite eval COPY --eval NAME``). The probes report their own controls,
so one evaluation gives the whole row: the run's early checkpoint (``early``, 5% of its steps), a
Gaussian fit of the training pixels (``gaussian-fit``), a randomly initialised network with
standing BatchNorm statistics and its G's output spread matched to the data (``random``), a generator that returns training images
(``copying``, shown only) and held-out real data (docs/probes.md, Controls). The protocol, fixed
before the runs: the trained G's sample_std (and each generated control's) is at least a quarter
of the real images'; on each probe's headline metric the trained model beats ``early``,
``gaussian-fit`` and ``random``:

- svm: lower few-label error (higher accuracy) than the random and the early D;
- kid (in the fixed feature space, the ``-kid-fixed`` presets): lower KID;
- prdc (in the fixed feature space, the ``-prdc-fixed`` presets): higher precision, density,
  coverage and recall. Added after the rest, and after the prdc rows of one 800-step digits run
  had been seen (the README's main job's training): the page says so;
- every paired trained-minus-control row a probe reports against ``early``, ``gaussian-fit`` or
  ``random`` (variant ``trained-<control>``; svm's gain over the random D, prdc's gains): its 95%
  interval lies above 0 (the rows against ``copying`` and ``real`` are shown, not checked);
- latent-walk, memorization: closer to 1 (smaller |ln value|; both are two-sided);
- arithmetic: higher lift.

Every one of these fails for a bad generator (tests/test_controls.py runs them on one).

The paired-interval checks on kid, latent-walk, memorization and arithmetic were added with
those probes' difference rows, after a 300-step run's KID against the Gaussian fit had been seen.

Run (the digits run is the README's main job, ``gansuite run --model dcgan --eval
digits-prdc-fixed --eval digits-kid-fixed --max-steps 800 -o ngf=32 -o ndf=32``, or any run made
with ``gansuite run --model dcgan --dataset DATASET --max-steps N --seed 0 --out DIR``; each
keeps its early checkpoint):

    python benchmarks/probe_calibration.py --run DIGITS_RUN

Add ``--run CIFAR_RUN --data-root DIR --allow-unverified`` for a CIFAR-10 run, ``--probes`` to
evaluate only some probes (the CIFAR-10 svm preset fits 50,000 images: tens of minutes on a CPU),
``-o kid.n_samples=...`` to size an eval, ``--reuse svm`` to take a probe's rows from the run's own
``gansuite run --eval`` instead of evaluating it again (rows marked ``reused``); ``--keep`` adds a run to the page without evaluating
the runs already there again.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gansuite import atomic_write_bytes, atomic_write_json
from gansuite.report.texttable import provenance_line

PROBES = ("svm", "prdc", "kid", "latent-walk", "memorization", "arithmetic")
HEADLINE = {  # the metrics of each probe the table and the checks use
    "svm": ("error", "accuracy"),
    "prdc": ("precision", "density", "coverage", "recall"),
    "kid": ("kid",),
    "latent-walk": ("path_length",),
    "memorization": ("nn_ratio",),
    "arithmetic": ("lift",),
}
# KID and PRDC in the fixed feature space: Inception's is hours on a CPU
EVAL_SUFFIX = {"kid": "kid-fixed", "prdc": "prdc-fixed"}
VARIANTS = ("trained", "early", "gaussian-fit", "random", "copying", "real")
# the controls a trained generator is checked against: each can beat a bad generator (the copier
# is shown, not checked: almost any generator of varied images sits on the right side of it)
CONTROLS = ("early", "gaussian-fit", "random")
# a generator whose samples vary less than this fraction of the real images' is degenerate
MIN_STD_FRACTION = 0.25
ROW_KEYS = ("probe", "dataset", "metric", "variant", "space", "value", "ci95", "ci95_low", "ci95_high", "step", "seed",
            "feature_space", "model", "device", "better", "eval", "sample_std", "control_step", "commit",
            "machine", "data_verified", "data_provenance", "control", "distinguishable", "note", "ci_method",
            "output_gain", "reused", "train_seconds")


def eval_name(dataset: str, probe: str) -> str:
    """The eval preset a probe is calibrated with on ``dataset``."""
    return f"{dataset}-{EVAL_SUFFIX.get(probe, probe)}"


def evaluate(run: Path, dataset: str, work: Path, data_root: Path | None, allow_unverified: bool,
             options: list[str], probes: tuple[str, ...] = PROBES,
             reuse: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Copy ``run`` into ``work`` and evaluate the copy with ``gansuite eval``; its new rows. A probe
    in ``reuse`` whose eval the run already has in its ``results.json`` (from ``gansuite run
    --eval``) is not evaluated again: those rows are used, marked ``reused``."""
    copy = work / run.name
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("samples"))
    results = copy / "results.json"
    existing = json.loads(results.read_text()) if results.is_file() else []
    have = {r.get("eval") for r in existing}
    kept = [{**r, "reused": True} for r in existing
            if r.get("eval") in {eval_name(dataset, p) for p in reuse if p in probes}]
    probes = tuple(p for p in probes if not (p in reuse and eval_name(dataset, p) in have))
    if not probes:
        return kept
    before = len(existing)
    cmd = [sys.executable, "-m", "gansuite", "eval", str(copy), "--no-progress"]
    for probe in probes:
        cmd += ["--eval", eval_name(dataset, probe)]
    if data_root is not None:
        cmd += ["--data-root", str(data_root)]
    if allow_unverified:
        cmd.append("--allow-unverified")
    for opt in options:
        cmd += ["-o", opt]
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"  {time.perf_counter() - start:.0f} s", flush=True)
    rows = json.loads(results.read_text())
    return kept + rows[before:]


def _headline(rows: list[dict[str, Any]], probe: str) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("probe") == probe and r["metric"] in HEADLINE[probe]
            and not str(r.get("variant", "")).startswith("trained-")]


def _groups(rows: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, dict[str, Any]]]]:
    """(metric, space, rows by variant) in the order the metrics first appear."""
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["metric"], r.get("space") or ""), {})[r["variant"]] = r
    return [(m, sp, by) for (m, sp), by in sorted(out.items(), key=lambda kv: kv[0][1])]


def _gains(rows: list[dict[str, Any]], probe: str) -> list[dict[str, Any]]:
    """The probe's paired trained-minus-control rows (variant ``trained-<control>``, with an interval)."""
    return [r for r in rows if r.get("probe") == probe and str(r.get("variant", "")).startswith("trained-")
            and r.get("ci95_low") is not None]


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    value, ci = row["value"], row.get("ci95")
    digits = 4 if abs(value) < 10 else 1
    if ci is None or not math.isfinite(ci):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ± {ci:.{digits}f}"


def _gain_cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    cell = _cell(row)
    return cell + (" (not distinguishable from 0)" if row.get("distinguishable") is False else "")


def _gap(row: dict[str, Any]) -> float:
    return abs(math.log(max(row["value"], 1e-6)))


def real_std(rows: list[dict[str, Any]]) -> float | None:
    """The real images' sample_std (from the rows of a real control that carry it)."""
    stds = [r["sample_std"] for r in rows if r.get("variant") == "real" and r.get("sample_std") is not None]
    return stds[0] if stds else None


def sample_stds(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Each generator variant's sample_std (the first row that carries it)."""
    out: dict[str, float] = {}
    for r in rows:
        if r.get("sample_std") is not None and r.get("variant") not in out:
            out[r["variant"]] = float(r["sample_std"])
    return out


def checks(rows: list[dict[str, Any]], probe: str) -> list[tuple[str, bool]]:
    """(what, holds) for the trained model against each control of one probe; every check is one
    that a bad model fails (a collapsed G, a G no better than its early checkpoint, a data fit or
    a random network). Where the probe reports a paired difference against a control, its
    interval must lie above 0 too."""
    out: list[tuple[str, bool]] = []
    for metric, space, by in _groups(_headline(rows, probe)):
        t = by.get("trained")
        if t is None:
            continue
        where = f" ({space})" if space else ""
        for name, c in ((v, by[v]) for v in CONTROLS if v in by):
            if probe == "svm":
                ok = t["value"] < c["value"] if metric == "error" else t["value"] > c["value"]
                out.append((f"trained D beats {name} D{where}", ok))
            elif probe in ("arithmetic", "prdc"):
                out.append((f"{metric} above {name}{where}", t["value"] > c["value"]))
            elif probe == "kid":
                out.append((f"KID below {name}{where}", t["value"] < c["value"]))
            else:
                out.append((f"closer to 1 than {name}{where}", _gap(t) < _gap(c)))
    for g in _gains(rows, probe):
        where = f" ({g['space']})" if g.get("space") else ""
        control = str(g["variant"])[len("trained-"):]
        if control not in CONTROLS:  # the copier and the real floor are shown, not checked
            continue
        out.append((f"{g['metric']} over {control}{where}: paired CI above 0", g["ci95_low"] > 0))
    return out


def std_checks(rows: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """Every generator (the trained one and each generated control) draws varied images: its
    sample_std is at least MIN_STD_FRACTION of the real images'."""
    real = real_std(rows)
    if real is None:
        return []
    return [(f"{variant} G sample_std {std:.3f} >= {MIN_STD_FRACTION} x real {real:.3f}",
             std >= MIN_STD_FRACTION * real)
            for variant, std in sample_stds(rows).items() if variant in ("trained", "early", "random")]


def render(results: dict[str, tuple[Path, list[dict[str, Any]]]], preamble: str = "") -> str:
    """The markdown page."""
    lines = ["# Probe calibration", "",
             "Generated by `python benchmarks/probe_calibration.py` (see its docstring for the command); "
             "do not edit by hand. Each cell: value ± 95% CI half-width. What each probe measures, which "
             "direction is better and why the controls score as they do: [probes.md](probes.md); the "
             "controls themselves: [probes.md, Controls](probes.md#controls). The checks were fixed in the "
             "docs before these runs were evaluated (probe_calibration.py's docstring). Earlier versions of "
             "this page compared against a random G evaluated with BatchNorm's initial statistics, which "
             "drew one grey image; their sections are not kept (git history has them).", ""]
    if preamble:
        lines += [preamble, ""]
    for label, (run, rows) in results.items():
        first = rows[0] if rows else {}
        early = next((r.get("control_step") for r in rows if r.get("variant") == "early" and r.get("control_step")),
                     None)
        lines += [f"## {label}", "",
                  f"Run `{Path(run).name}` (model {first.get('model')}, step {first.get('step')}, "
                  f"seed {first.get('seed')}, device {first.get('device')}; early control: step {early}).", ""]
        reused = sorted({str(r.get("eval")) for r in rows if r.get("reused")})
        gains = sorted({str(r["output_gain"]) for r in rows if r.get("output_gain") is not None})
        if reused:
            lines += [f"Rows of {', '.join(f'`{e}`' for e in reused)}: the run's own `gansuite run --eval` "
                      "(not evaluated again; their commit is in the rows).", ""]
        if gains:
            lines += [f"Random G's output gain (matched to the real images' sample_std): {', '.join(gains)}.", ""]
        lines += [provenance_line(rows), "",
                  "| probe | metric | space | " + " | ".join(VARIANTS) + " | better |",
                  "|---|---|---|" + "---|" * len(VARIANTS) + "---|"]
        for probe in PROBES:
            for metric, space, by in _groups(_headline(rows, probe)):
                any_row = next(iter(by.values()))
                cells = " | ".join(_cell(by.get(v)) for v in VARIANTS)
                lines.append(f"| {probe} | {metric} | {space} | {cells} | {any_row.get('better') or ''} |")
            for metric, space, by in _groups(_gains(rows, probe)):  # trained minus control, in the control's column
                cells = " | ".join(_gain_cell(by.get(f"trained-{v}")) for v in VARIANTS)
                better = next(iter(by.values())).get("better") or "higher: trained minus control, paired"
                lines.append(f"| {probe} | {metric} | {space} | {cells} | {better} |")
        stds = sample_stds(rows)
        real = real_std(rows)
        if stds:
            cells = " | ".join(f"{stds[v]:.3f}" if v in stds else (f"{real:.3f}" if v == "real" and real else "")
                               for v in VARIANTS)
            lines.append(f"| all | sample_std |  | {cells} | per-pixel std across samples, [0, 1] |")
        lines += ["", "Trained model against each control (every check is one a bad generator fails):", ""]
        for what, ok in std_checks(rows):
            lines.append(f"- samples: {what}: {'yes' if ok else '**no**'}")
        for probe in PROBES:
            for what, ok in checks(rows, probe):
                lines.append(f"- {probe}: {what}: {'yes' if ok else '**no**'}")
        lines.append("")
    return "\n".join(lines)


def _label(model: Any, dataset: str, step: Any, seed: Any) -> str:
    return f"{model} on {dataset}, {step} training steps, seed {seed}"


def _order(rows: list[dict[str, Any]]) -> tuple[str, int, int]:
    """Sections by dataset, then training steps, then seed."""
    first = rows[0] if rows else {}
    return (str(first.get("eval", "")), int(first.get("step") or 0), int(first.get("seed") or 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", type=Path, default=[],
                        help="trained run folder (repeatable); with --keep and no --run the page is re-rendered")
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--allow-unverified", action="store_true")
    parser.add_argument("-o", dest="options", action="append", default=[], help="probe option for every eval")
    parser.add_argument("--note", default="", help="a paragraph printed under the page's header (how the runs were made)")
    parser.add_argument("--probes", default=",".join(PROBES), help=f"comma-separated subset of {', '.join(PROBES)}")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "probe-calibration.md")
    parser.add_argument("--reuse", default="", help="comma-separated probes whose rows a run already has from "
                        "'gansuite run --eval' are taken from it instead of evaluated again (e.g. svm)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the sections of runs not given here (from the page's .json), so a run can be "
                             "added without evaluating the others again")
    args = parser.parse_args(argv)
    if not args.run and not args.keep:
        parser.error("give --run RUN_DIR (or --keep to re-render the page from its .json)")
    results: dict[str, tuple[Path, list[dict[str, Any]]]] = {}
    stored = args.out.with_suffix(".json")
    if args.keep and stored.is_file():
        given = {str(run) for run in args.run}
        for section in json.loads(stored.read_text()).values():
            if section["run"] not in given and section["rows"]:
                first = section["rows"][0]
                dataset = first.get("dataset") or str(first.get("eval", "")).split("-", 1)[0]
                results[_label(first.get("model"), dataset, first.get("step"), first.get("seed"))] = (
                    Path(section["run"]), section["rows"])
    with tempfile.TemporaryDirectory(prefix="probe-calibration-") as tmp:
        for run in args.run:
            config = json.loads((run / "config.json").read_text())
            dataset = config["dataset"]
            probes = tuple(p for p in args.probes.split(",") if p)
            unknown = sorted(set(probes) - set(PROBES))
            if unknown:
                parser.error(f"unknown probe(s) {', '.join(unknown)}; choose from {', '.join(PROBES)}")
            rows = evaluate(run, dataset, Path(tmp), args.data_root, args.allow_unverified, args.options, probes,
                            reuse=tuple(p for p in args.reuse.split(",") if p))
            first = rows[0] if rows else {}
            results[_label(config["model"], dataset, first.get("step"), first.get("seed"))] = (run, rows)
    results = dict(sorted(results.items(), key=lambda item: _order(item[1][1])))
    text = render(results, args.note)
    keys = ROW_KEYS
    atomic_write_bytes(args.out, text.encode())
    atomic_write_json(args.out.with_suffix(".json"),
                      {k: {"run": str(run), "rows": [{key: r.get(key) for key in keys} for r in rows]}
                       for k, (run, rows) in results.items()})
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
