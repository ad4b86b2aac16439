"""Figures of the benchmark history: one per benchmark family (training step, generation,
features, SVM, dedup, evaluation), each with throughput (left) and fraction of the ceiling
(right) over the stored runs (x: commit and date), flagged runs marked; and one self-contained
HTML page with every figure inlined and the table of runs beside them."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gansuite.contract.errors import OptionError
from gansuite.contract.files import atomic_write_bytes
from gansuite.report.bench_runs import FAMILIES, STARVED_CEILING, STARVED_STEAL, STARVED_THROUGHPUT

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["family_png", "plot_families", "write_html"]

_SLUG = {f: f.replace(" ", "-") for f in FAMILIES}


def family_png(frame: pd.DataFrame, family: str, *, include_flagged: bool = False) -> bytes:
    """The PNG of one family: throughput and fraction of the ceiling over stored runs."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    part = frame[frame["family"] == family]
    runs = list(dict.fromkeys(part["file"]))
    x_of = {f: i for i, f in enumerate(runs)}
    ticks = part.drop_duplicates("file")
    labels = [f"{c}\n{d[5:10]}{' !' if fl else ''}" for c, d, fl in
              zip(ticks["commit"], ticks["date"], ticks["flagged"], strict=True)]
    series = sorted(part.groupby(["machine", "mode", "benchmark", "unit"]).groups)
    legend_rows = (len(series) + 1) // 2
    height = 4.4 + 0.15 * legend_rows
    fig = Figure(figsize=(13.0, height))
    FigureCanvasAgg(fig)
    ax_abs, ax_frac = fig.subplots(1, 2)
    colors = [cmap(i % 20) for i, cmap in [(i, _tab20()) for i in range(len(series))]]
    machines = sorted(set(part["machine"]))
    for ax, column, ylabel in ((ax_abs, "throughput", "throughput (log scale; unit in legend)"),
                               (ax_frac, "fraction", "fraction of the ceiling")):
        for key, color in zip(series, colors, strict=True):
            machine, mode, name, unit = key
            rows = part[(part["machine"] == machine) & (part["mode"] == mode) & (part["benchmark"] == name)
                        & (part["unit"] == unit)].dropna(subset=[column])
            if rows.empty:
                continue
            xs, ys = [x_of[f] for f in rows["file"]], list(rows[column])
            trend = rows if include_flagged else rows[~rows["flagged"]]
            where = machine.removeprefix("linux-x86_64-") + (f" {mode}" if mode != "quick" else "")
            label = f"{name} [{unit}]" + (f"  {where}" if len(machines) > 1 or mode != "quick" else "")
            marker = "os^Dv"[machines.index(machine) % 5]
            ax.plot([x_of[f] for f in trend["file"]], list(trend[column]), marker + "-", ms=3.5, lw=1.2,
                    color=color, label=label if ax is ax_abs else None)
            bad = rows["flagged"].to_numpy()
            if bad.any():
                ax.plot([x for x, b in zip(xs, bad, strict=True) if b], [y for y, b in zip(ys, bad, strict=True) if b],
                        "x", color=color, ms=8, mew=2)
        ax.set_xticks(range(len(runs)), labels, fontsize=6.5)
        ax.set_xlim(-0.5, max(0.5, len(runs) - 0.5))
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(alpha=0.3)
    if part["throughput"].gt(0).any():
        ax_abs.set_yscale("log")
    ax_abs.set_title("throughput", fontsize=9)
    ax_frac.set_ylim(bottom=0)
    ax_frac.set_title("fraction of the ceiling (GEMM- or bandwidth-bound; empty: no ceiling stored)", fontsize=9)
    if not part["fraction"].notna().any():
        ax_frac.text(0.5, 0.5, "no run of this family stored its ceilings", ha="center", va="center",
                     transform=ax_frac.transAxes, fontsize=9, color="0.4")
    handles, names = ax_abs.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.suptitle(f"{family}: {', '.join(sorted(set(part['machine'])))}  (x: commit, date; "
                 f"'x' and '!': a flagged run{'' if include_flagged else ', left out of the lines'})",
                 fontsize=10)
    fig.tight_layout(rect=(0, min(0.7, (0.15 * legend_rows + 0.15) / height), 1, 0.95))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def _tab20() -> Any:
    from matplotlib import colormaps

    return colormaps["tab20"]


def plot_families(frame: pd.DataFrame, stem: Path, *, include_flagged: bool = False) -> list[Path]:
    """``<stem>-<family>.png`` for every family present in ``frame``; the paths written."""
    if frame.empty:
        raise OptionError("No stored benchmark runs to plot; store one with 'gansuite bench --save'.")
    out = []
    for family in FAMILIES:
        if (frame["family"] == family).any():
            png = Path(f"{stem}-{_SLUG[family]}.png")
            atomic_write_bytes(png, family_png(frame, family, include_flagged=include_flagged))
            out.append(png)
    return out


def _table_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.3g}"
    return str(value)


def write_html(page: Path, pngs: Sequence[Path], runs: pd.DataFrame, *, source: str) -> Path:
    """One self-contained page: the rules, the table of runs and every figure (inlined)."""
    figures = []
    for png in pngs:
        data = base64.b64encode(png.read_bytes()).decode()
        figures.append(f"<h2>{html.escape(png.stem)}</h2><img alt='{html.escape(png.stem)}' "
                       f"src='data:image/png;base64,{data}'>")
    rules = (f"A run is flagged when the lower of its two GEMM measurements is below {STARVED_CEILING:g} x the "
             f"median ceiling of its hardware id, when its 1-minute load average exceeds the core count, or "
             f"when more than {STARVED_STEAL:.0%} of the CPU time was stolen; a run stored without ceilings "
             f"when its throughput is below {STARVED_THROUGHPUT:g} x the best stored for the same benchmark "
             f"and id (median over its benchmarks).")
    text = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Benchmark history</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:1250px}}img{{max-width:100%}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}</style>
</head><body>
<h1>Benchmark history</h1>
<p>Generated by <code>gansuite bench history</code> from {html.escape(source)}.</p>
<p>{html.escape(rules)}</p>
<h2>Stored runs</h2>
{_table_html(runs)}
{''.join(figures)}
</body></html>
"""
    atomic_write_bytes(Path(page), text.encode())
    return Path(page)
