"""Turn a pytest-benchmark JSON report into a recorded run under ``benchmarks/results/``.

Each benchmark in the report becomes one row: its name, its time, then everything it put in
``extra_info`` (speed ratios, agreement, sizes). ``gansuite bench report`` then shows the record
in docs/benchmarks.md. Usage:

    python -m pytest -c benchmarks/pytest.ini benchmarks/bench_svm.py --benchmark-json=/tmp/svm.json
    python benchmarks/record_result.py /tmp/svm.json --out benchmarks/results/svm-vs-linearsvc.json \\
        --title "..." --command "..." [--note "..."] [--column NAME ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gansuite import RunError, atomic_write_json
from gansuite.report.bench import load_report, machine_id


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("report", type=Path, help="a pytest-benchmark JSON report")
    parser.add_argument("--out", type=Path, required=True, help="the record to write (benchmarks/results/NAME.json)")
    parser.add_argument("--title", required=True)
    parser.add_argument("--command", required=True, help="the command that produced the report")
    parser.add_argument("--note", action="append", default=[], help="a line under the title (repeatable)")
    parser.add_argument("--column", action="append", default=[], help="keep only these extra_info keys")
    args = parser.parse_args(argv)
    try:
        report = load_report(args.report)
    except RunError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    commit = ((report.get("commit_info") or {}).get("id") or "")[:10]
    record = {"title": args.title, "command": args.command, "machine": machine_id(),
              "date": str(report.get("datetime", ""))[:10],
              "source": f"pytest-benchmark report of commit {commit}" if commit else "pytest-benchmark report",
              "notes": args.note, "rows": rows(report, args.column or None)}
    atomic_write_json(args.out, record)
    print(f"Wrote {args.out} ({len(record['rows'])} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
