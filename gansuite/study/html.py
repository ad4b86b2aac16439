"""A study as one self-contained HTML file: every image embedded as base64, no external links.

It shows the spec, each cell's state, the aggregate and pairwise tables, the error-bar figure,
and for every run its last sample grid (the newest ``samples/step-*.png``) and its loss curve
(``samples/loss-curve.png``).
"""

from __future__ import annotations

import base64
import time
from html import escape
from pathlib import Path

from gansuite.contract.files import atomic_write
from gansuite.study.tables import StudyTables, display_rows, plot_aggregate

__all__ = ["render_report", "write_report", "last_sample"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.runs { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; border: 1px solid #ddd; padding: 0.5em; }
figure img { display: block; max-width: 320px; image-rendering: pixelated; }
figcaption { font-size: 0.8em; margin-top: 0.3em; }
.failed { color: #b00; }
"""


def last_sample(run_dir: Path) -> Path | None:
    """The newest sample grid of a run (``samples/step-NNNNNNNNN.png``)."""
    grids = sorted((run_dir / "samples").glob("step-*.png"))
    return grids[-1] if grids else None


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cells_section(tables: StudyTables, evals: list[str]) -> str:
    study = tables.study
    rows = []
    for cell in study.cells():
        record = study.read_record(cell.id)
        state = "finished" if study.finished(cell.id, evals) else record.get("status", "not started")
        wall = record.get("wall_s")
        rows.append([cell.id, cell.label, cell.model, cell.dataset, str(cell.seed), state,
                     "" if wall is None else f"{wall:.1f}", str(study.log_path(cell.id))])
    return _table(["cell", "model", "registered model", "dataset", "seed", "state", "wall s", "log"], rows)


def _runs_section(tables: StudyTables) -> str:
    study, parts = tables.study, []
    by_label: dict[str, list] = {}
    for cell in study.cells():
        by_label.setdefault(cell.label, []).append(cell)
    for label, cells in by_label.items():
        figures = []
        for cell in cells:
            run_dir = study.run_dir(cell.id)
            sample, curve = last_sample(run_dir), run_dir / "samples" / "loss-curve.png"
            images = []
            if sample is not None:
                images.append(_img(sample.read_bytes(), f"{cell.id} samples ({sample.stem})"))
            if curve.is_file():
                images.append(_img(curve.read_bytes(), f"{cell.id} loss curve"))
            caption = f"{cell.id}: " + (sample.stem if sample else "no samples yet")
            figures.append(f"<figure>{''.join(images)}<figcaption>{escape(caption)}</figcaption></figure>")
        parts.append(f"<h3>{escape(label)}</h3><div class=\"runs\">{''.join(figures)}</div>")
    return "".join(parts)


def render_report(tables: StudyTables) -> str:
    """The report's HTML text."""
    info = tables.study.read_study()
    evals = list(info.get("evals", []))
    models = ", ".join(f"{m['label']} ({m['name']}{'; ' + ' '.join(m['options']) if m.get('options') else ''})"
                       for m in info.get("models", []))
    budget = ", ".join(f"{k}={v}" for k, v in (info.get("budget") or {}).items() if v is not None)
    spec_rows = [["models", models], ["datasets", ", ".join(info.get("datasets", []))],
                 ["evals", ", ".join(evals) or "(none)"],
                 ["seeds", ", ".join(str(s) for s in info.get("seeds", []))], ["budget", budget],
                 ["spec", str(info.get("spec", ""))]]
    body = [f"<h1>Study {escape(str(info.get('name', '')))}</h1>",
            f"<p>{escape(str(tables.study.path))}; report written {escape(time.strftime('%Y-%m-%d %H:%M:%S %z'))}.</p>",
            _table(["", ""], spec_rows), "<h2>Cells</h2>", _cells_section(tables, evals)]
    if tables.aggregate.empty:
        body.append("<h2>Aggregate</h2><p>No finished cells yet.</p>")
    else:
        headers, rows = display_rows(tables)
        body += ["<h2>Aggregate over seeds</h2>",
                 "<p>Mean +- half-width of the 95% t-interval of the mean, over the seeds of finished cells; "
                 "controls (random networks and the like) beside the variant they control.</p>",
                 _table(headers, rows), _img(plot_aggregate(tables), "aggregate with 95% intervals")]
        if not tables.pairwise.empty:
            pw = tables.pairwise.astype(object).where(tables.pairwise.notna(), "")
            body += ["<h2>Pairwise tests over seeds</h2>",
                     _table([str(c) for c in pw.columns],
                            [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
                             for row in pw.itertuples(index=False)])]
    body += ["<h2>Samples and loss curves</h2>", _runs_section(tables)]
    title = escape(f"gansuite study {info.get('name', '')}")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


def write_report(tables: StudyTables, path: Path | None = None) -> Path:
    """Write the report (default ``STUDY/report.html``) atomically; returns its path."""
    out = Path(path) if path is not None else tables.study.path / "report.html"
    text = render_report(tables)
    atomic_write(out, lambda fh: fh.write(text))
    return out
