"""How good is the real-data classifier behind gan-test and cas-score? A results record.

Both probes judge generated images with a classifier; its accuracy on real test images bounds what
they can tell apart. This script measures the ``inception-linear`` classifier (a softmax regression
on the Inception pool3 features the fid/kid/prdc probes compute) on a dataset's real images:
fit on ``--n-train`` training images (seeded subset), test on ``--n-test`` test images, with the
binomial 95% interval over test images. Cheap by design: the features are the expensive part.

    python benchmarks/real_classifier.py --dataset cifar10 --data-root ../shared/data/cifar10 \\
        --allow-unverified --n-train 5000 --n-test 2000 --out benchmarks/results/real-classifier-cifar10.json

Provenance (data verified or not, commit, machine, versions) is written with the number.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def as_record(raw: dict[str, Any], machine: str | None = None) -> dict[str, Any]:
    """The measurement as a results record (docs/benchmarks.md shows it): one row, the classifier's
    accuracy on the real test images, with the record's provenance fields."""
    from gansuite.report.bench import machine_id

    row = {"variant": "real-test", "metric": "accuracy", **{k: raw[k] for k in (
        "accuracy", "ci95", "ci_method", "n_train", "n_test", "seconds") if k in raw}}
    row["value"] = row.pop("accuracy")
    row.update({k: v for k, v in (raw.get("classifier") or {}).items()})
    return {
        "title": f"The inception-linear classifier on real {raw['name'].removeprefix('real-classifier-')} "
                 "test images",
        "command": raw["command"], "machine": machine or machine_id(), "date": str(raw["created"])[:10],
        "source": "benchmarks/real_classifier.py", "commit": raw.get("commit"),
        "data_verified": raw.get("data_verified"), "data_provenance": raw.get("data_provenance") or "",
        "unverified_files": raw.get("unverified_files", []), "versions": raw.get("versions"),
        "cpu_threads": raw.get("cpu_threads"),
        "notes": ["The classifier behind gan-test and cas-score on CIFAR-10 (docs/probes.md): a softmax "
                  "regression on Inception pool3 features, fitted on n_train training images and scored on "
                  "n_test test images; the interval is binomial over the test images."],
        "rows": [row],
    }


def main(argv: list[str] | None = None) -> int:
    from gansuite_probes.classifiers import fit_inception_linear
    from gansuite_probes.svm import subset

    from gansuite._host.manager import get_catalog
    from gansuite._host.options import build_config
    from gansuite.engine.data import check_integrity

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--allow-unverified", action="store_true")
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    spec = get_catalog().registry("datasets").get(args.dataset)
    dataset = spec.load_factory()(build_config(spec, {}), root=args.data_root)
    verification = dataset.verify()
    check_integrity(args.dataset, verification, allow_unverified=args.allow_unverified)
    train, test = dataset.load("train", image_size=32), dataset.load("test", image_size=32)
    gen = torch.Generator().manual_seed(args.seed)
    tr, te = subset(len(train), args.n_train, gen), subset(len(test), args.n_test, gen)
    start = time.perf_counter()
    clf = fit_inception_linear(train.images[tr], train.labels[tr].long(), len(train.classes), device="cpu")
    pred = clf.predict(test.images[te])
    acc = float((pred == test.labels[te].long()).double().mean())
    half = 1.96 * (acc * (1 - acc) / len(te)) ** 0.5
    raw = {
        "name": f"real-classifier-{args.dataset}", "classifier": clf.describe(), "accuracy": acc, "ci95": half,
        "ci_method": f"binomial (normal approximation) over {len(te):,} test images",
        "n_train": len(tr), "n_test": len(te), "seconds": round(time.perf_counter() - start, 1),
        "data_verified": bool(verification.verified), "unverified_files": list(verification.mismatched),
        "data_provenance": verification.detail, "commit": _commit(),
        "cpu_threads": torch.get_num_threads(), "versions": {"torch": torch.__version__, "python": sys.version.split()[0]},
        "command": "python benchmarks/real_classifier.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    record = as_record(raw)
    text = json.dumps(record, indent=2, default=str)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(text + "\n")
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
