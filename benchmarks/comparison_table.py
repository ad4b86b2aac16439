"""The comparison table of ``compare_families.py``, generated from its runs (docs/comparison.md).

    python benchmarks/comparison_table.py runs/families-cifar10 --doc docs/comparison.md \
        --record benchmarks/results/families-cifar10.json [--extra-run runs/projection-digits-c]

Reads each run's ``results.json``, ``config.json``, ``wall.json`` and final checkpoint (steps,
training seconds). Every number is a mean and a sample standard
deviation over the seeds, next to its random-network control; nothing in the output is typed by
hand except the papers' numbers and the text around the tables. ``--record`` also writes every
result row of the runs (with the run, model and seed) as a results record, so the page's numbers
are committed beside it and shown in docs/benchmarks.md; the page opens with a provenance line
(data verified or not, commits, machine) taken from the rows.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from gansuite import atomic_write_json
from gansuite.report.texttable import provenance_line

__all__ = ["collect", "render", "record", "main", "PAPERS"]

# The papers' own CIFAR-10 numbers (Inception score / FID after full training on GPUs): context,
# not comparable with the KID, SVM and GAN-test numbers of a few CPU minutes.
PAPERS: dict[str, list[str]] = {
    "dcgan": ["82.8% L2-SVM accuracy on D features (the ImageNet-32 D, 28,672 features; Radford et al., "
              "Table 1)", "Inception score 6.16 (as reported in Gulrajani et al., Table 3)"],
    "wgan-gp": ["Inception score 7.86 (ResNet, unsupervised; Gulrajani et al., Table 3)",
                "Inception score 6.68, FID 40.2 with the standard CNN (as reported in Miyato et al. 2018, "
                "Table 2)"],
    "sngan": ["Inception score 7.42, FID 29.3 with the standard CNN (Miyato et al. 2018, Table 2)",
              "Inception score 8.22, FID 21.7 with the ResNet (ibid.)"],
    "sngan-projection": ["Inception score 8.62, FID 17.5, class-conditional, ResNet (Miyato & Koyama 2018)"],
}


def _load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def _checkpoint(run: Path) -> dict[str, Any]:
    """Steps and training seconds of the run's last checkpoint."""
    import torch

    files = sorted((run / "checkpoints").glob("step-*.pt"))
    if not files:
        return {}
    state = torch.load(files[-1], map_location="cpu", weights_only=True)
    return {"steps": int(state["step"]), "train_s": float(state["seconds"])}


def _value(rows: list[dict], eval_suffix: str, variant: str | None) -> dict | None:
    for r in rows:
        if r.get("eval", "").endswith(eval_suffix) and (variant is None or r.get("variant") == variant):
            return r
    if eval_suffix.endswith("-gan-test"):  # records made before gan-test was renamed from cas
        return _value(rows, eval_suffix[: -len("-gan-test")] + "-cas", variant)
    return None


def collect(folder: Path) -> dict[str, Any]:
    """Per model: one record per seed; the driver's settings; the wall time the runs span."""
    runs: dict[str, list[dict]] = defaultdict(list)
    for run in sorted((folder / "runs").glob("*-s*")):
        if not run.is_dir() or not (run / "results.json").is_file():
            continue
        cfg, rows = _load(run / "config.json"), _load(run / "results.json")
        arch = cfg.get("architecture") or {}
        rec = {"seed": cfg["seed"], "batch": cfg["batch_size"], "n_dis": int(arch.get("n_dis", 1)),
               "created": cfg.get("created"),
               "wall_s": (_load(run / "wall.json") or {}).get("wall_s"), "options": cfg.get("options", []),
               "eval_s": sum({r["eval"]: r.get("eval_seconds", 0) for r in rows}.values()), "rows": rows,
               "params_g": arch.get("generator_parameters"), "params_d": arch.get("discriminator_parameters"),
               "git": cfg.get("git_commit"), "torch": (cfg.get("versions") or {}).get("torch"),
               **_checkpoint(run)}
        runs[cfg["model"]].append(rec)
    spans = [s for s in (_span(run) for run in (folder / "runs").glob("*-s*") if run.is_dir()) if s]
    wall = max(e for _, e in spans) - min(b for b, _ in spans) if spans else float("nan")
    return {"runs": dict(runs), "driver": _load(folder / "driver.json") or {}, "wall_s": wall}


def _span(run: Path) -> tuple[float, float] | None:
    """(start, end) of a run in epoch seconds: config.json's creation time plus its wall time."""
    from datetime import datetime

    cfg, wall = _load(run / "config.json"), _load(run / "wall.json")
    if not cfg or not wall or not cfg.get("created"):
        return None
    start = datetime.strptime(cfg["created"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
    return start, start + float(wall["wall_s"])


def _stats(values: list[float]) -> tuple[float, float, int]:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return float("nan"), float("nan"), 0
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else float("nan")), len(vals)


def _fmt(values: list[float], digits: int = 3, scale: float = 1.0) -> str:
    mean, sd, n = _stats([v * scale if v is not None else None for v in values])
    if n == 0:
        return "-"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


def _metric(recs: list[dict], suffix: str, variant: str | None) -> list[float]:
    return [(_value(r["rows"], suffix, variant) or {}).get("value") for r in recs]


def _speed_table(data: dict[str, Any], models: list[str]) -> list[str]:
    calib = data["driver"].get("calibration") or {}
    lines = ["| model | seeds | G params | D params | CPU-s per step | real images per CPU-s | G updates "
             "| training wall s | real images/s (wall) | eval wall s | wall s per run |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        recs = data["runs"][m]
        imgs = [r["steps"] * r["batch"] * r["n_dis"] / r["train_s"] for r in recs if r.get("train_s")]
        cpu = (calib.get(m) or {}).get("cpu_s_per_step")
        per_cpu = f"{recs[0]['batch'] * recs[0]['n_dis'] / cpu:.0f}" if cpu else "-"
        lines.append(f"| {m} | {len(recs)} | {recs[0]['params_g']:,} | {recs[0]['params_d']:,} | "
                     f"{f'{cpu:.3f}' if cpu else '-'} | {per_cpu} | {_fmt([r.get('steps') for r in recs], 0)} | "
                     f"{_fmt([r.get('train_s') for r in recs], 0)} | {_fmt(imgs, 0)} | "
                     f"{_fmt([r['eval_s'] for r in recs], 0)} | {_fmt([r['wall_s'] for r in recs], 0)} |")
    return lines


def _svm_metric(data: dict[str, Any], prefix: str) -> str:
    """What the svm rows measure: ``accuracy`` (protocol full) or ``error`` (few-label)."""
    for recs in data["runs"].values():
        for r in recs:
            row = _value(r["rows"], f"{prefix}-svm", "trained")
            if row:
                return str(row.get("metric", "accuracy"))
    return "accuracy"


def _quality_table(data: dict[str, Any], models: list[str], prefix: str) -> list[str]:
    what = _svm_metric(data, prefix)
    lines = [f"| model | SVM {what}, trained D | SVM {what}, random D | SVM gain over random D (paired) "
             "| KID, trained G | KID, early G | KID, Gaussian fit | KID, random G "
             "| KID, held-out real images | random G sample_std | GAN-test, trained G | GAN-test, random G "
             "| GAN-test ceiling (real test images) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        recs = data["runs"][m]
        svm = [_fmt(_metric(recs, f"{prefix}-svm", v)) for v in ("trained", "random", "trained-random")]
        kid = [_fmt(_metric(recs, f"{prefix}-kid", v), 4) for v in ("trained", "early", "gaussian-fit", "random",
                                                                    "real")]
        kid.append(_fmt([(_value(r["rows"], f"{prefix}-kid", "random") or {}).get("sample_std") for r in recs]))
        cas = [_fmt(_metric(recs, f"{prefix}-gan-test", v)) for v in ("trained", "random", "real-test")]
        lines.append(f"| {m} | {' | '.join(svm)} | {' | '.join(kid)} | {' | '.join(cas)} |")
    return lines


PAIRED = (("svm", "gain_over_random", "trained-random", "SVM, over the random D"),
          ("svm", "gain_over_early", "trained-early", "SVM, over the early D"),
          ("kid", "kid_gain", "trained-random", "KID, over the random G"),
          ("kid", "kid_gain", "trained-early", "KID, over the early G"),
          ("kid", "kid_gain", "trained-gaussian-fit", "KID, over the Gaussian fit"))


def _paired(recs: list[dict], prefix: str, probe: str, metric: str, variant: str) -> list[dict]:
    """Each seed's paired trained-minus-control row (with an interval), in seed order."""
    out = []
    for r in sorted(recs, key=lambda rec: rec["seed"]):
        row = next((x for x in r["rows"] if str(x.get("eval", "")).endswith(f"{prefix}-{probe}")
                    and x.get("metric") == metric and x.get("variant") == variant
                    and x.get("ci95_low") is not None), None)
        if row is not None:
            out.append(row)
    return out


def _paired_table(data: dict[str, Any], models: list[str], prefix: str) -> list[str]:
    """Per model and control: each seed's paired difference with its 95% interval (over test images
    or samples, as the row's ci_method says), and how many seeds' intervals lie above 0."""
    lines = ["| model | difference | " + " | ".join(f"seed {s}" for s in _seeds(data)) + " | seeds above 0 |",
             "|---|---|" + "---|" * len(_seeds(data)) + "---|"]
    for m in models:
        for probe, metric, variant, label in PAIRED:
            rows = _paired(data["runs"][m], prefix, probe, metric, variant)
            if not rows:
                continue
            by_seed = {int(r.get("seed") or 0): r for r in rows}
            cells = []
            for seed in _seeds(data):
                r = by_seed.get(seed)
                cells.append("-" if r is None else f"{r['value']:+.3f} ± {r.get('ci95', float('nan')):.3f}"
                             + ("" if r["ci95_low"] > 0 else (" (below 0)" if r["ci95_high"] < 0
                                                               else " (not distinguishable from 0)")))
            above = sum(1 for r in rows if r["ci95_low"] > 0)
            lines.append(f"| {m} | {label} | {' | '.join(cells)} | {above} of {len(rows)} |")
    return lines


def _ci_methods(data: dict[str, Any], prefix: str) -> str:
    """What each paired row's interval resamples (its ``ci_method``), per probe."""
    found: dict[str, str] = {}
    for recs in data["runs"].values():
        for probe, metric, variant, _ in PAIRED:
            for row in _paired(recs, prefix, probe, metric, variant):
                if row.get("ci_method"):
                    found.setdefault(probe, str(row["ci_method"]))
    return "; ".join(f"{probe}, {method}" for probe, method in found.items()) or "see each row's ci_method"


def _seeds(data: dict[str, Any]) -> list[int]:
    return sorted({int(r["seed"]) for recs in data["runs"].values() for r in recs})


def _cas_detail(data: dict[str, Any], prefix: str) -> list[str]:
    out = []
    for m, recs in data["runs"].items():
        for r in recs:
            row = _value(r["rows"], f"{prefix}-gan-test", "trained")
            if row:
                out.append(f"- {m}, seed {r['seed']}: {row['value']:.3f} ± {row['ci95']:.3f} (binomial 95%) on "
                           f"{row['n']} samples, chance {row['chance']:.3f}; per class "
                           f"{', '.join(f'{v:.2f}' for v in row['per_class'])}.")
    return out


def render(data: dict[str, Any]) -> str:
    """docs/comparison.md from :func:`collect`'s records."""
    d = data["driver"]
    settings = d.get("settings", {})
    prefix = settings.get("dataset", "cifar10")
    models = [m for m in d.get("models", list(data["runs"])) if m in data["runs"]]
    first = data["runs"][models[0]][0]
    steps = d.get("steps") or {}
    budget = (f"{d['cpu_budget']:.0f} CPU-seconds of training per run (one thread; "
              + ", ".join(f"{m} {steps.get(m)} steps" for m in models) + ", from each model's calibrated "
              "CPU time per step)" if d.get("cpu_budget") else
              f"{next(iter(steps.values()), '?')} steps per run")
    lines = [
        "# The GAN families side by side on a CPU budget",
        "",
        "<!-- Generated by benchmarks/comparison_table.py from the runs of benchmarks/compare_families.py; "
        "do not edit by hand. -->",
        "",
        provenance_line([row for recs in data["runs"].values() for r in recs for row in r["rows"]]),
        "",
        f"Every model trained on {prefix} for {budget}, {_n_seeds(data)} seed(s) each, then "
        f"evaluated with the same evals: {', '.join(settings.get('evals', []))}, plus "
        f"{', '.join(settings.get('conditional_evals', []))} for the class-conditional model. One thread per "
        f"run, {d.get('jobs', 1)} runs at a time, on a {platform.machine()} machine with two cores shared "
        f"with other work; from the first run's start to the last one's end the comparison took "
        f"{data['wall_s'] / 60:.0f} minutes.",
        "",
        "Regenerate: `" + d.get("command", "python benchmarks/compare_families.py run ...") + "`, then "
        f"`python benchmarks/comparison_table.py OUT --doc {data.get('doc') or 'docs/comparison.md'}`.",
        "",
        "## Settings",
        "",
        f"- Model widths{' (a quarter of the widths the papers use on CIFAR-10)' if prefix == 'cifar10' else ''}: "
        + "; ".join(f"{m}: {' '.join(settings.get('model_options', {}).get(m, [])) or 'defaults'}" for m in models)
        + ". Every other model option is the paper's default (`gansuite show MODEL`).",
        f"- Eval sizes: `{' '.join('-o ' + o for o in settings.get('eval_options', []))}`.",
        "- Controls, in every run with the run's seed: the svm probe's randomly initialised D; the kid and gan-test "
        "probes' randomly initialised G of the same architecture (both with BatchNorm statistics recomputed "
        "on their own inputs, and G's output gain matched to the real images' spread: docs/probes.md, "
        "Controls); kid's early checkpoint of the same run and Gaussian "
        "fit of the training pixels; kid's held-out real images (the floor a perfect generator would reach) "
        "and gan-test's real test images (the classifier's ceiling).",
        f"- torch {first.get('torch')}; gansuite commits "
        + ", ".join(sorted({str(r.get('git'))[:10] for recs in data['runs'].values() for r in recs})) + ".",
        "",
        "## Training",
        "",
        *_speed_table(data, models),
        "",
        "Mean ± standard deviation over seeds. A G update is one training step: `n_dis` D updates (each on "
        "its own real batch) and one G update; real images count every D batch. CPU-s per step is the "
        "calibration's (process CPU time of one thread, so it does not depend on the other work on the "
        "machine); the wall-clock columns do, and were measured with that work running.",
        "",
        "## Evals",
        "",
        *_quality_table(data, models, prefix),
        "",
        ("SVM: test accuracy of the L2-SVM on D's pooled features (higher is better; chance 0.1). "
         if _svm_metric(data, prefix) != "error" else
         "SVM: few-label test error of the L2-SVM on D's pooled features (lower is better; chance 0.9); its gain "
         "is the random D's error minus the trained D's (higher is better). ") + "KID: kernel "
        "Inception distance to real training images (lower is better). GAN-test: the fraction of class-conditional "
        "samples a real-data classifier assigns to their conditioning class (chance 0.1).",
        "",
        *(["### GAN-test per run", "", *_cas_detail(data, prefix), ""] if _cas_detail(data, prefix) else []),
        "### Trained minus each control, per seed (paired)", "",
        "Each cell: the trained model's lead over the control in one run, with the 95% interval of its row "
        "(positive is better: SVM " + ("error lowered" if _svm_metric(data, prefix) == "error" else "accuracy raised")
        + ", KID lowered). A lead whose "
        "interval holds 0 says \"not distinguishable from 0\". The mean ± std columns above spread over "
        "seeds; these intervals resample within each seed: " + _ci_methods(data, prefix) + ".", "",
        *_paired_table(data, models, prefix), "",
        "## The papers' own numbers",
        "",
        *[f"- {m}: " + "; ".join(PAPERS.get(m, ["-"])) + "." for m in models],
        "",
        "These come from full training runs (100,000-200,000 G updates on GPUs, full widths) and measure "
        "Inception score or FID on 50,000 samples, not KID on a few hundred; they give the scale of what each "
        "family reaches, not a target for the numbers above.",
        "",
        "## What a CPU budget can and cannot show",
        "",
        *_reading(data, models, prefix),
        *_extra_runs(data.get("extra", [])),
    ]
    return "\n".join(lines) + "\n"


def record(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The runs' result rows as a results record (benchmarks/results/), with their provenance."""
    rows = [{"model": m, "seed": r["seed"], "steps": r.get("steps"), **{k: v for k, v in row.items()
                                                                       if k in RECORD_KEYS}}
            for m, recs in data["runs"].items() for r in recs for row in r["rows"]]
    verified = {row.get("data_verified") for row in rows}
    notes = sorted({str(row["data_provenance"]) for row in rows if row.get("data_provenance")})
    return {
        "title": f"The GAN families side by side ({data['driver'].get('settings', {}).get('dataset', '?')})",
        "command": data["driver"].get("command", "python benchmarks/compare_families.py run ..."),
        "machine": next((row["machine"] for row in rows if row.get("machine")), platform.machine()),
        "date": max((str(r.get("created") or "")[:10] for recs in data["runs"].values() for r in recs), default=""),
        "source": f"run folders under {folder}",
        "commit": ", ".join(sorted({str(r.get("git"))[:10] for recs in data["runs"].values() for r in recs})),
        "data_verified": True if verified == {True} else False if False in verified else None,
        "data_provenance": "; ".join(notes),
        "notes": ["Every result row of the runs docs/comparison.md is generated from (comparison_table.py)."],
        "rows": rows,
    }


RECORD_KEYS = ("eval", "metric", "variant", "value", "ci95", "ci95_low", "ci95_high", "std", "n_samples",
               "sample_std", "control_step", "control", "distinguishable", "note", "data_verified", "data_provenance",
               "commit", "machine")


def _extra_runs(runs: list[Path]) -> list[str]:
    """A section per further run folder (``--extra-run``): what it trained and every result row."""
    out: list[str] = []
    for run in runs:
        cfg, rows = _load(run / "config.json") or {}, _load(run / "results.json") or []
        steps = _checkpoint(run).get("steps")
        out += ["", f"## {cfg.get('model')} on {cfg.get('dataset')}, {steps} steps (run `{run.name}`)", "",
                f"`gansuite run --model {cfg.get('model')} --dataset {cfg.get('dataset')} "
                + "".join(f"-o {o} " for o in cfg.get("options", []))
                + f"--max-steps {steps} --seed {cfg.get('seed')} "
                + "".join(f"--eval {e} " for e in cfg.get("evals", [])).rstrip()
                + f"`; the sample grid (one row per class for a conditional model) is "
                f"`samples/step-{steps:09d}.png` in the run folder." if steps else "", "",
                "| eval | variant | value | ± (95%) | n | detail |", "|---|---|---|---|---|---|"]
        for r in rows:
            detail = (f"per class {', '.join(f'{v:.2f}' for v in r['per_class'])}; predicted "
                      f"{r.get('predicted_classes')}" if r.get("per_class") else "")
            ci = f"{r['ci95']:.3f}" if isinstance(r.get("ci95"), (int, float)) else "-"
            out.append(f"| {r['eval']} | {r.get('variant', '')} | {r['value']:.3f} | {ci} | {r.get('n', '')} "
                       f"| {detail} |")
    return out


def _n_seeds(data: dict[str, Any]) -> int:
    """Seeds per model among the runs collected (the preset may list more than were run)."""
    return max((len(recs) for recs in data["runs"].values()), default=0)


def _reading(data: dict[str, Any], models: list[str], prefix: str) -> list[str]:
    """Statements that follow from the numbers (computed here, so they stay true when regenerated)."""
    out = []
    kid = {m: _stats(_metric(data["runs"][m], f"{prefix}-kid", "trained"))[0] for m in models}
    ctrl = {m: _stats(_metric(data["runs"][m], f"{prefix}-kid", "random"))[0] for m in models}
    steps = {m: _stats([r.get("steps") for r in data["runs"][m]])[0] for m in models}
    best = min(kid, key=lambda m: kid[m] if not math.isnan(kid[m]) else math.inf)
    moved = [m for m in models if kid[m] < ctrl[m]]
    out.append(f"- Can: tell a model that moved from its initialisation from one that did not. KID fell below "
               f"the random G's for {len(moved)} of {len(models)} families ({', '.join(moved) or 'none'}); "
               f"the lowest mean KID was {best}'s ({kid[best]:.4f}, random G {ctrl[best]:.4f}).")
    for variant, name in (("trained-random", "the random G"), ("trained-gaussian-fit", "the Gaussian fit")):
        rows = [r for m in models for r in _paired(data["runs"][m], prefix, "kid", "kid_gain", variant)]
        if rows:
            above = sum(1 for r in rows if r["ci95_low"] > 0)
            below = sum(1 for r in rows if r["ci95_high"] < 0)
            out.append(f"- Paired KID lead over {name}: its interval lies above 0 in {above} of {len(rows)} runs"
                       + (f", below 0 in {below}" if below else "")
                       + (" (a Gaussian with the training pixels' mean and principal components is closer to "
                          "the data in this feature space than any model at this budget)"
                          if variant == "trained-gaussian-fit" and above == 0 and below else "") + ".")
    out.append("- Cannot: rank the families as their papers do. The budget buys "
               + ", ".join(f"{m} {steps[m]:.0f}" for m in models)
               + " G updates, against 100,000 or more in the papers: the cheaper the step, the further a model "
               "gets, so the ranking here is one of early progress per CPU-second at reduced width, not of "
               "what each family reaches.")
    svm = {m: (_stats(_metric(data["runs"][m], f"{prefix}-svm", "trained"))[0],
               _stats(_metric(data["runs"][m], f"{prefix}-svm", "random"))[0]) for m in models}
    sign = -1.0 if _svm_metric(data, prefix) == "error" else 1.0  # error: lower is better
    out.append(f"- SVM {_svm_metric(data, prefix)} on D features, trained D's advantage over the random D: "
               + ", ".join(f"{m} {100 * sign * (a - b):+.1f} points" for m, (a, b) in svm.items())
               + ". A random D is a strong baseline (random conv features classify images well above chance), "
               "so a small gap says little about what D learned.")
    cas = [(m, _stats(_metric(data["runs"][m], f"{prefix}-gan-test", v))[0]) for m in models
           for v in ("trained",) if _metric(data["runs"][m], f"{prefix}-gan-test", v)[0] is not None]
    for m, value in cas:
        floor = _stats(_metric(data["runs"][m], f"{prefix}-gan-test", "random"))[0]
        ceil = _stats(_metric(data["runs"][m], f"{prefix}-gan-test", "real-test"))[0]
        out.append(f"- GAN-test of {m}: {value:.3f} against a random G's {floor:.3f} and real test images' {ceil:.3f} "
                   f"(the classifier's own ceiling): the conditioning "
                   + ("is visible in the samples." if value > floor + 0.02 else "is not yet visible in the samples."))
    real_std = _stats([(_value(r["rows"], f"{prefix}-kid", "real") or {}).get("sample_std")
                       for m in models for r in data["runs"][m]])[0]
    rand_std = {m: _stats([(_value(r["rows"], f"{prefix}-kid", "random") or {}).get("sample_std")
                           for r in data["runs"][m]])[0] for m in models}
    flat = [m for m in models if not math.isnan(real_std) and rand_std[m] < 0.25 * real_std]
    if math.isnan(real_std):  # rows made before the real control carried its sample_std
        out.append("- Random G spread (sample_std): " + ", ".join(f"{m} {v:.3f}" for m, v in rand_std.items())
                   + "; these rows do not carry the real images' (docs/probe-calibration.md has it for the "
                   "dataset): a random G below a quarter of it draws low-contrast images, and a KID below "
                   "that G's is a weak check; the early checkpoint and the Gaussian fit are the controls to read.")
    if flat:
        out.append(f"- Random G spread: below a quarter of the real images' sample_std ({real_std:.3f}) for "
                   + ", ".join(f"{m} ({rand_std[m]:.3f})" for m in flat)
                   + ": at these widths a freshly initialised G draws low-contrast images even with standing "
                   "statistics, so a KID below that random G's is a weak check for them; the early checkpoint "
                   "and the Gaussian fit are the controls to read.")
    elif not math.isnan(real_std):
        out.append(f"- Random G spread: the real images' sample_std is {real_std:.3f}; the random Gs' "
                   + ", ".join(f"{m} {v:.3f}" for m, v in rand_std.items())
                   + " (each random G's output gain is matched to the real images' spread: docs/probes.md, Controls).")
    n_seeds = max(len(recs) for recs in data["runs"].values())
    out.append(f"- Seeds: {n_seeds} per model" + (" (a single seed: no spread over seeds)" if n_seeds == 1 else
               "; the spread is a rough guide") + "; KID on a few hundred samples is itself noisy.")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the folder compare_families.py wrote")
    parser.add_argument("--doc", type=Path, help="write the markdown here (default: print it)")
    parser.add_argument("--extra-run", type=Path, action="append", default=[],
                        help="a further run folder whose results get a section of their own (repeatable)")
    parser.add_argument("--record", type=Path, help="also write every result row as a results record here")
    args = parser.parse_args(argv)
    data = collect(args.folder)
    data["doc"] = str(args.doc) if args.doc else None
    data["extra"] = list(args.extra_run)
    if not data["runs"]:
        raise SystemExit(f"no finished runs under {args.folder / 'runs'}")
    text = render(data)
    if args.record:
        atomic_write_json(args.record, record(data, args.folder))
        print(f"wrote {args.record}")
    if args.doc:
        args.doc.write_text(text)
        print(f"wrote {args.doc}")
    else:
        print(text)


if __name__ == "__main__":
    main()
