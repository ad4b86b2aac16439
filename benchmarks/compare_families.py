"""The GAN families side by side: every model, every seed, one training budget, the same evals.

    python benchmarks/compare_families.py run --preset cifar10 --data-root DIR --allow-unverified \\
        --out runs/families-cifar10 --jobs 2
    python benchmarks/comparison_table.py runs/families-cifar10 --doc docs/comparison.md

``run`` gives every model the same CPU budget: a calibration measures each model's CPU seconds
per training step (one thread, this process's CPU time, on real batches), and each run trains
for the budget divided by that many steps, so the comparison does not depend on what else the
machine is doing. Each (model, seed) is one ``gansuite run`` process with one thread (on a
shared 2-core machine, two OpenMP threads waiting at barriers made a run many times slower),
evaluated with the preset's evals; each eval reports its own random-network control (the svm
probe a random D, kid and gan-test a random G of the run's seed; kid also held-out real images).
Finished runs are kept: rerunning continues where it stopped. ``driver.json`` in the output
folder records the preset, the calibration, the step counts, the commands and each run's wall
time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Preset", "PRESETS", "MODELS", "main", "calibrate", "steps_per_model"]

MODELS = ("dcgan", "wgan-gp", "sngan", "sngan-projection")
CONDITIONAL = ("sngan-projection",)


@dataclass(frozen=True)
class Preset:
    """One comparison: dataset, evals and their sizes, model widths, budget, seeds."""

    dataset: str
    evals: tuple[str, ...]
    conditional_evals: tuple[str, ...]
    eval_options: tuple[str, ...]
    model_options: dict[str, tuple[str, ...]]
    seeds: tuple[int, ...]
    cpu_budget: float | None = None  # CPU-seconds of training per run (steps from a calibration)
    max_steps: int | None = None  # or the same step count for every model
    extra: tuple[str, ...] = field(default=())


# Every family at a quarter of its paper's CIFAR-10 width (ngf/ndf 64, DIM 128, ch 512), so that
# a few minutes of one CPU thread take it past its first few dozen updates.
QUARTER = {"dcgan": ("dcgan.ngf=16", "dcgan.ndf=16"), "wgan-gp": ("wgan-gp.dim=32",),
           "sngan": ("sngan.ch=128",), "sngan-projection": ("sngan-projection.ch=128",)}
TINY = {"dcgan": ("dcgan.ngf=8", "dcgan.ndf=8"), "wgan-gp": ("wgan-gp.dim=8",),
        "sngan": ("sngan.ch=32",), "sngan-projection": ("sngan-projection.ch=32",)}

PRESETS = {
    "cifar10": Preset(
        dataset="cifar10", evals=("cifar10-svm", "cifar10-kid"), conditional_evals=("cifar10-gan-test",),
        eval_options=("svm.max_train=5000", "svm.max_test=2000", "svm.val_size=1000",
                      "svm.search_max_train=4000", "kid.n_samples=100", "kid.n_reference=500",
                      "kid.subset_size=50", "kid.subsets=50", "gan-test.n_samples=1000",
                      # the CNN classifier (real test accuracy about 0.40, in every row): the default
                      # inception-linear one costs Inception features of 10,000 images on a CPU
                      "gan-test.classifier=cnn"),
        model_options=QUARTER, seeds=(0, 1, 2), cpu_budget=45.0, extra=("--allow-unverified",)),
    "digits": Preset(
        dataset="digits", evals=("digits-svm", "digits-kid"), conditional_evals=("digits-gan-test",),
        eval_options=("svm.max_iter=20", "svm.search_iter=10", "svm.val_size=200", "svm.max_train=600",
                      "svm.labels_per_class=10",
                      "svm.max_test=200", "kid.n_samples=40", "kid.n_reference=40", "kid.subset_size=20",
                      "kid.subsets=10", "gan-test.n_samples=100", "gan-test.max_test=200"),
        model_options=TINY, seeds=(0, 1), max_steps=8),
}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANSUITE_")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def run_args(preset: Preset, model: str, seed: int, out: Path, args: argparse.Namespace) -> list[str]:
    """The ``gansuite run`` arguments of one (model, seed)."""
    evals = preset.evals + (preset.conditional_evals if model in CONDITIONAL else ())
    cmd = ["--model", model, "--dataset", preset.dataset, "--seed", str(seed), "--out", str(out),
           "--device", "cpu", "--no-progress", "--log-every", "10", "--sample-every", "100000",
           "--checkpoint-every", "100000", *preset.extra]
    if args.data_root:
        cmd += ["--data-root", str(args.data_root)]
    for name in evals:
        cmd += ["--eval", name]
    cmd += ["--max-steps", str(args.steps[model])]
    return cmd + [x for o in _options(preset, model, evals, args) for x in ("-o", o)]


def _options(preset: Preset, model: str, evals: tuple[str, ...], args: argparse.Namespace) -> list[str]:
    used = {e.split("-", 1)[1] for e in evals}  # the probes behind the evals (svm, kid, gan-test)
    opts = [o for o in (*preset.eval_options, *args.option) if o.split(".", 1)[0] in used or "." not in o]
    cache = Path(args.out) / "cache"
    opts += [f"gan-test.cache_dir={cache}"] if "gan-test" in used else []  # kid caches its reference by content
    return [*preset.model_options.get(model, ()), *opts]


def _done(folder: Path, evals: tuple[str, ...]) -> bool:
    path = folder / "results.json"
    if not path.is_file():
        return False
    rows = json.loads(path.read_text())
    return set(evals) <= {r.get("eval") for r in rows}


def _command(kind: str, argv: list[str]) -> list[str]:
    if kind == "run":
        return [sys.executable, "-m", "gansuite", "run", *argv]
    return [sys.executable, str(Path(__file__).resolve()), kind, *argv]


def _in_process(kind: str, argv: list[str]) -> int:
    """Run one job in this process (``--in-process``: no interpreter start-up per run)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from gansuite.cli import main as gansuite_main

        gansuite_main([kind, *argv])
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    finally:
        torch.set_num_threads(threads)
    return 0


def _launch(kind: str, argv: list[str], folder: Path, evals: tuple[str, ...], in_process: bool = False) -> dict[str, Any]:
    if _done(folder, evals):
        return {"folder": str(folder), "skipped": True}
    if folder.exists():
        shutil.rmtree(folder)  # an unfinished run: start it again
    folder.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    log_path = folder.parent / f"{folder.name}.log"
    for attempt in range(2):  # a run killed by a signal (the OOM killer on a shared machine) gets one retry
        if in_process:
            rc = _in_process(kind, argv)
        else:
            with open(log_path, "w") as log:
                rc = subprocess.run(_command(kind, argv), env=_env(), stdout=log, stderr=subprocess.STDOUT).returncode
        if rc >= 0 or attempt:
            break
        print(f"{folder.name}: killed by signal {-rc}; starting it again", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
        start = time.monotonic()
    wall = round(time.monotonic() - start, 1)
    if rc != 0:
        print(f"{folder.name} failed (exit {rc}); see {log_path}", flush=True)
        return {"folder": str(folder), "failed": rc}
    (folder / "wall.json").write_text(json.dumps({"wall_s": wall, "kind": kind, "argv": argv}, indent=2))
    print(f"{folder.name}: {wall:.0f} s", flush=True)
    return {"folder": str(folder), "wall_s": wall}


def jobs(preset: Preset, args: argparse.Namespace) -> list[tuple[str, list[str], Path, tuple[str, ...]]]:
    """Every run, seed-major (so an interrupted comparison has whole seeds)."""
    out = Path(args.out)
    todo = []
    for seed in preset.seeds[: args.seeds]:
        for model in args.models:
            folder = out / "runs" / f"{model}-s{seed}"
            evals = preset.evals + (preset.conditional_evals if model in CONDITIONAL else ())
            todo.append(("run", run_args(preset, model, seed, folder, args), folder, evals))
    return todo


def steps_per_model(preset: Preset, args: argparse.Namespace) -> dict[str, Any]:
    """Training steps of each model: ``max_steps`` for all, or the CPU budget divided by each
    model's CPU seconds per step (calibrated once, kept in ``calibration.json``)."""
    if args.max_steps or preset.cpu_budget is None:
        n = int(args.max_steps or preset.max_steps or 1)
        return {"steps": dict.fromkeys(args.models, n), "calibration": {}}
    budget = float(args.cpu_budget or preset.cpu_budget)
    path = Path(args.out) / "calibration.json"
    calib = json.loads(path.read_text()) if path.is_file() else {}
    for model in args.models:
        if model not in calib:
            argv = ["--preset", args.preset, "--model", model, "--out", str(args.out),
                    *(["--data-root", str(args.data_root)] if args.data_root else [])]
            if args.in_process:
                calib[model] = calibrate(parse([ "calibrate", *argv]))
            else:
                res = subprocess.run(_command("calibrate", argv), env=_env(), capture_output=True, text=True)
                if res.returncode != 0:
                    raise SystemExit(f"calibrating {model} failed:\n{res.stderr[-2000:]}")
                calib[model] = json.loads(res.stdout.strip().splitlines()[-1])
            path.write_text(json.dumps(calib, indent=2))
            print(f"{model}: {calib[model]['cpu_s_per_step']:.3f} CPU-s per step", flush=True)
    steps = {m: max(1, round(budget / calib[m]["cpu_s_per_step"])) for m in args.models}
    return {"steps": steps, "calibration": calib, "cpu_budget": budget}


def calibrate(args: argparse.Namespace) -> dict[str, Any]:
    """CPU seconds (this process, one thread) per training step of a model as the preset builds
    it, on real batches of the preset's data: two warm-up steps, then steps until 6 CPU-seconds
    (at least 3). Prints and returns ``{"cpu_s_per_step", "steps_timed"}``."""
    import torch

    from gansuite.contract.model import Batch
    from gansuite.engine.step import GANStep, normalize_batch
    from gansuite.runs.plan import RunRequest, plan_run
    from gansuite.runs.preflight import preflight

    torch.set_num_threads(1)
    preset = PRESETS[args.preset]
    req = RunRequest(model=args.model, dataset=preset.dataset, data_root=args.data_root, seed=0, device="cpu",
                     max_steps=1, progress=False, options=tuple(preset.model_options.get(args.model, ())),
                     allow_unverified="--allow-unverified" in preset.extra, out=Path(args.out) / "calibration")
    prepared = preflight(plan_run(req))
    model, data = prepared.model, prepared.data.data
    for net in (model.generator, model.discriminator):
        net.to(memory_format=torch.channels_last).train()
    opt_g, opt_d = model.optimizers()
    step = GANStep(model, opt_g, opt_d, device=torch.device("cpu"), amp=False)
    gen = torch.Generator().manual_seed(0)

    def batch() -> Batch:
        idx = torch.randint(0, len(data.images), (prepared.batch_size,), generator=gen)
        y = data.labels[idx] if model.num_classes and data.labels is not None else None
        return Batch(normalize_batch(data.images, idx, "cpu"), y)

    for i in range(2):
        step(batch(), gen, step=i, total=None, next_batch=batch)
    start, n = time.process_time(), 0
    while n < 3 or time.process_time() - start < 6.0:
        step(batch(), gen, step=n, total=None, next_batch=batch)
        n += 1
    result = {"cpu_s_per_step": (time.process_time() - start) / n, "steps_timed": n,
              "batch_size": prepared.batch_size}
    print(json.dumps(result), flush=True)
    return result


def run(args: argparse.Namespace) -> None:
    preset = PRESETS[args.preset]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    plan = steps_per_model(preset, args)
    args.steps = plan["steps"]
    record = {"preset": args.preset, "settings": asdict(preset), "models": list(args.models), **plan,
              "options": list(args.option), "jobs": args.jobs, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "command": " ".join(["python", "benchmarks/compare_families.py", *args.argv]),
              "threads_per_run": 1, "in_process": bool(args.in_process)}
    todo = jobs(preset, args)
    if args.in_process:
        results = [_launch(*job, in_process=True) for job in todo]
    else:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(lambda job: _launch(*job), todo))
    previous = _load_record(out / "driver.json")
    record.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), runs=results,
                  wall_s=round(time.time() - start, 1) + previous.get("wall_s", 0.0),
                  invocations=[*previous.get("invocations", []), {"command": record["command"],
                               "started": record["started"], "wall_s": round(time.time() - start, 1)}])
    (out / "driver.json").write_text(json.dumps(record, indent=2))
    failed = [r["folder"] for r in results if r.get("failed")]
    print(f"done in {record['invocations'][-1]['wall_s']:.0f} s: {out}" + (f"; failed: {failed}" if failed else ""))
    if failed:
        raise SystemExit(1)


def _load_record(path: Path) -> dict[str, Any]:
    """The driver.json of earlier invocations on the same folder (their wall time adds up)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train and evaluate every model and seed of a preset")
    r.add_argument("--preset", choices=sorted(PRESETS), default="cifar10")
    r.add_argument("--models", nargs="+", default=list(MODELS))
    r.add_argument("--jobs", type=int, default=1, help="runs at a time (one thread each)")
    r.add_argument("--cpu-budget", type=float, help="override the preset's CPU-seconds of training per run")
    r.add_argument("--max-steps", type=int, help="the same step count for every model (no calibration)")
    r.add_argument("--seeds", type=int, help="only the preset's first N seeds")
    r.add_argument("--in-process", action="store_true",
                   help="run every job in this process, one after another (no start-up cost per run)")
    k = sub.add_parser("calibrate", help="(internal) CPU seconds per training step of one model")
    k.add_argument("--preset", choices=sorted(PRESETS), default="cifar10")
    k.add_argument("--model", required=True)
    for p in (r, k):
        p.add_argument("--out", required=True, help="the comparison's folder")
        p.add_argument("--data-root", type=Path)
        p.add_argument("-o", "--option", action="append", default=[], help="extra -o for the evals' probes")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    {"run": run, "calibrate": calibrate}[args.command](args)


if __name__ == "__main__":
    main()
