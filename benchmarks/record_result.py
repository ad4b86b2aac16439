"""Turn a pytest-benchmark JSON report, or a run folder's results, into a recorded run under
``benchmarks/results/``.

From a report, each benchmark becomes one row: its name, its time, then everything it put in
``extra_info`` (speed ratios, agreement, sizes). From a run folder (``--run``), each results row
(``gansuite results RUN --format json``) of the chosen ``--eval`` becomes one. ``gansuite bench
report`` then shows the record in docs/benchmarks.md. Usage:

    python -m pytest -c benchmarks/pytest.ini benchmarks/bench_svm.py --benchmark-json=/tmp/svm.json
    python benchmarks/record_result.py /tmp/svm.json --out benchmarks/results/svm-vs-linearsvc.json \\
        --title "..." --command "..." [--note "..."] [--column NAME ...]
    python benchmarks/record_result.py --run RUN_DIR --eval cifar10-fid --out ... --title ... --command ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gansuite import GansuiteError, RunError, atomic_write_json
from gansuite.report.bench import load_report, machine_id
from gansuite.report.bench_runs import run_ceilings, run_load


def rows(report: dict[str, Any], columns: list[str] | None) -> list[dict[str, Any]]:
    """One flat row per benchmark: name, median seconds, then its extra_info (or ``columns`` of it)."""
    out = []
    for bench in report.get("benchmarks", []):
        extra = dict(bench.get("extra_info") or {})
        if columns:
            extra = {k: extra.get(k) for k in columns}
        out.append({"benchmark": bench.get("name"), "median_s": (bench.get("stats") or {}).get("median"),
                    **extra})
    return out


def run_rows(run: Path, evals: list[str], columns: list[str] | None) -> list[dict[str, Any]]:
    """The results rows of ``run`` (evals in ``evals``, all when empty), in the order they were written."""
    from gansuite.report.results import run_rows as rows_of

    out = []
    for row in rows_of(run, train=False):
        if evals and row.get("eval") not in evals:
            continue
        out.append({k: row.get(k) for k in columns} if columns else row)
    return out


def _run_provenance(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The record's own provenance from its rows: data verified only when every row's was (None when
    a row's data have no checksums), the rows' data provenance, and the commit(s) that evaluated
    them (the source names the training's)."""
    verified = [r.get("data_verified") for r in rows]
    texts = sorted({str(r["data_provenance"]) for r in rows if r.get("data_provenance")})
    commits = sorted({str(r["commit"])[:12] for r in rows if r.get("commit")})
    # None: the data have no checksums to verify against (said so, not dropped)
    out: dict[str, Any] = {"data_verified": all(v is True for v in verified) if None not in verified else None}
    if texts:
        out["data_provenance"] = "; ".join(texts)
    if commits:
        out["commit"] = ", ".join(commits)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("report", type=Path, nargs="?", help="a pytest-benchmark JSON report")
    parser.add_argument("--run", type=Path, default=None, help="a run folder: record its results rows instead")
    parser.add_argument("--eval", action="append", default=[], help="with --run: only these evals (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="the record to write (benchmarks/results/NAME.json)")
    parser.add_argument("--title", required=True)
    parser.add_argument("--command", required=True, help="the command that produced the report")
    parser.add_argument("--note", action="append", default=[], help="a line under the title (repeatable)")
    parser.add_argument("--column", action="append", default=[], help="keep only these extra_info keys")
    parser.add_argument("--data-provenance", default=None,
                        help="where a report's data came from (a report carries none); recorded as not verified "
                             "unless --data-verified")
    parser.add_argument("--data-verified", action="store_true", help="with --data-provenance: the data's checksums matched")
    args = parser.parse_args(argv)
    if (args.report is None) == (args.run is None):
        print("Error: give a pytest-benchmark report or --run RUN_DIR (one of them).", file=sys.stderr)
        return 2
    ceilings: dict[str, float] = {}
    provenance: dict[str, Any] = {}
    try:
        if args.run is not None:
            full = run_rows(args.run, args.eval, None)
            if not full:
                raise RunError(f"{args.run} has no results rows{' for ' + ', '.join(args.eval) if args.eval else ''}.")
            found = [{k: r.get(k) for k in args.column} for r in full] if args.column else full
            config = json.loads((args.run / "config.json").read_text())
            commit = str(config.get("git_commit") or "")[:10]
            date, source = str(full[0].get("created") or "")[:10], f"run folder {args.run.name}"
            provenance = _run_provenance(full)
        else:
            report = load_report(args.report)
            found = rows(report, args.column or None)
            commit = ((report.get("commit_info") or {}).get("id") or "")[:10]
            ceilings = {**(run_ceilings(report) or {}), **(run_load(report) or {})}
            date, source = str(report.get("datetime", ""))[:10], "pytest-benchmark report"
            if args.data_provenance:
                provenance = {"data_verified": bool(args.data_verified), "data_provenance": args.data_provenance}
            if commit:
                provenance["commit"] = commit
    except (GansuiteError, OSError, json.JSONDecodeError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    record = {"title": args.title, "command": args.command, "machine": machine_id(), "date": date,
              "source": f"{source} of commit {commit}" if commit else source,
              **provenance, "notes": args.note, "rows": found}
    if ceilings:  # the machine's ceilings and load, measured in the same benchmark run
        record["ceilings"] = ceilings
    atomic_write_json(args.out, record)
    print(f"Wrote {args.out} ({len(record['rows'])} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
