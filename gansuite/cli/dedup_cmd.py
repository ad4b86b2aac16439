"""``gansuite dedup``: find duplicate groups in a dataset split, print and save them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from gansuite._host.options import build_config
from gansuite.cli._common import echo_json, load_catalog
from gansuite.cli.data_cmd import open_dataset
from gansuite.contract.errors import OptionError
from gansuite.engine.runfolder import atomic_write_json

__all__ = ["dedup_cmd", "dedup_report"]


def dedup_report(strategy: str, dataset: str, split: str, n: int, groups: list[list[int]],
                 seconds: float) -> dict[str, Any]:
    """The saved result: indices are in the dataset's own order; the first of a group is kept."""
    removed = sorted(i for g in groups for i in g[1:])
    return {
        "strategy": strategy,
        "dataset": dataset,
        "split": split,
        "n": n,
        "groups": groups,
        "removed": removed,
        "seconds": round(seconds, 3),
    }


@click.command("dedup")
@click.option("--dataset", required=True, help="Dataset name (gansuite list datasets).")
@click.option("--strategy", required=True, help="Dedup strategy (gansuite list dedup).")
@click.option("--split", default=None, help="Split to scan (default: the dataset's training split).")
@click.option("--data-root", type=click.Path(path_type=Path),
              help="Data folder (default: $GANSUITE_DATA or the user cache).")
@click.option("--out", type=click.Path(path_type=Path),
              help="Where to save the JSON (default: dedup-DATASET-SPLIT-STRATEGY.json here).")
@click.option("--cache-dir", type=click.Path(path_type=Path),
              help="Cache for trained hash models (default: $GANSUITE_CACHE or the user cache).")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Dataset or strategy option, e.g. -o epochs=5 or -o ae-hash.threshold=0.5.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
def dedup_cmd(dataset: str, strategy: str, split: str | None, data_root: Path | None, out: Path | None,
              cache_dir: Path | None, options: tuple[str, ...], as_json: bool) -> None:
    """Find groups of (near-)duplicate images; the first of each group is the one kept.

    \b
    Examples:
      gansuite dedup --dataset digits --strategy exact --json
      gansuite dedup --dataset cifar10 --strategy ae-hash -o epochs=5 --data-root DIR
    """
    from gansuite.engine.build import plugin_call
    from gansuite.engine.checks import check_groups
    from gansuite.engine.data import default_cache_dir

    dedup_spec = load_catalog().registry("dedup").get(strategy)
    spec, ds, routed = open_dataset(dataset, data_root, options, others=[dedup_spec])
    config = build_config(dedup_spec, routed[dedup_spec.name])
    split = split or spec.train_split
    if split not in tuple(ds.splits):
        raise OptionError(f"Dataset '{spec.name}' has no split '{split}' (it has: {', '.join(ds.splits)}).")
    data = plugin_call(spec, f"to load split '{split}'", ds.load, split)
    start = time.perf_counter()
    finder = plugin_call(dedup_spec, "to build", dedup_spec.load_factory(), config)
    groups = check_groups(dedup_spec, plugin_call(dedup_spec, "to find duplicates", finder.find_groups,
                                                  data.images, cache_dir=cache_dir or default_cache_dir()), len(data))
    report = dedup_report(dedup_spec.name, spec.name, split, len(data), groups,
                          time.perf_counter() - start)
    out = out or Path(f"dedup-{spec.name}-{split}-{dedup_spec.name}.json")
    atomic_write_json(out, report)
    if as_json:
        echo_json(report)
        return
    click.echo(f"{spec.name}/{split}: {report['n']:,} images, {len(groups):,} duplicate groups, "
               f"{len(report['removed']):,} to remove ({dedup_spec.name}, {report['seconds']:.2f} s).")
    for group in groups[:10]:
        click.echo(f"  {group}")
    if len(groups) > 10:
        click.echo(f"  ... {len(groups) - 10} more")
    click.echo(f"Saved {out}")
