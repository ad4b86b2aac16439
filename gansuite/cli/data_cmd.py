"""``gansuite data info NAME``: counts, shapes, class balance, checksums, source and licence."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from gansuite._host.options import build_config, parse_pairs, split_overrides
from gansuite.cli._common import echo_json, load_catalog, table
from gansuite.contract.specs import DatasetSpec, Spec
from gansuite.engine.data import default_data_root

__all__ = ["data_group", "open_dataset", "split_summary"]


def open_dataset(
    name: str, data_root: Path | None, options: Sequence[str], *, others: Sequence[Spec] = (),
    download: bool | None = None,
) -> tuple[DatasetSpec, Any, dict[str, Any]]:
    """The spec, the dataset object and the other specs' raw options (``-o`` routed by name)."""
    catalog = load_catalog()
    spec: DatasetSpec = catalog.registry("datasets").get(name)
    routed = split_overrides(parse_pairs(options), [spec, *others])
    values: dict[str, Any] = dict(routed[spec.name])
    fields = {f.name for f in spec.option_fields()}
    if download is not None and "download" in fields and "download" not in values:
        values["download"] = download
    config = build_config(spec, values)
    from gansuite.engine.build import plugin_call

    dataset = plugin_call(spec, "to open its data", spec.load_factory(), config, root=default_data_root(data_root))
    return spec, dataset, routed


def split_summary(data: Any, seconds: float) -> dict[str, Any]:
    """What ``data info`` reports about one loaded split."""
    images, labels = data.images, data.labels
    nbytes = images.numel() * images.element_size()
    if labels is not None:
        nbytes += labels.numel() * labels.element_size()
    balance: dict[str, int] = {}
    if labels is not None and len(labels):
        values, counts = labels.unique(return_counts=True)  # only the labels present, however large
        names = list(data.classes)
        balance = dict.fromkeys(names, 0)  # a named class with no image still shows, as 0
        for i, c in zip(values.tolist(), counts.tolist(), strict=True):
            balance[names[i] if 0 <= i < len(names) else str(i)] = int(c)
    return {
        "n": len(data),
        "shape": list(images.shape[1:]),
        "dtype": str(images.dtype).replace("torch.", ""),
        "classes": balance,
        "load_seconds": round(seconds, 3),
        "memory_mb": round(nbytes / 2**20, 1),
    }


@click.group("data")
def data_group() -> None:
    """Inspect datasets."""


@data_group.command("info")
@click.argument("name")
@click.option("--data-root", type=click.Path(path_type=Path),
              help="Data folder (default: $GANSUITE_DATA or the user cache).")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Dataset option, e.g. -o path=photos for imagefolder.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_cmd(name: str, data_root: Path | None, options: tuple[str, ...], as_json: bool) -> None:
    """Counts per split, image shape, class balance, checksum status, source and licence.

    Reads every split once (and reports the time and memory that took); never downloads.
    """
    spec, dataset, _ = open_dataset(name, data_root, options, download=False)
    from gansuite.engine.build import plugin_call
    from gansuite.engine.checks import check_split

    info = getattr(dataset, "info", None)  # optional: a dataset without it reports no source or licence
    described = plugin_call(spec, "to describe itself", info) if callable(info) else {}
    if not isinstance(described, dict):
        from gansuite.contract.errors import PluginError

        raise PluginError(f"Dataset '{spec.name}' ({spec.origin()}): info() must return a dict, got "
                          f"{type(described).__name__}.")
    report: dict[str, Any] = {"dataset": spec.name, **described}
    verification = plugin_call(spec, "to verify its files", dataset.verify)
    report["checksums"] = {
        "verified": verification.verified,
        "checked": list(verification.checked),
        "mismatched": list(verification.mismatched),
        "detail": verification.detail,
    }
    splits = {}
    for split in dataset.splits:
        start = time.perf_counter()
        data = plugin_call(spec, f"to load split '{split}'", dataset.load, split)
        check_split(spec, split, data)
        splits[split] = split_summary(data, time.perf_counter() - start)
        del data
    report["splits"] = splits
    if as_json:
        echo_json(report)
        return
    _print_report(report)


def _status(checks: dict[str, Any]) -> str:
    if checks["verified"] is True:
        return f"verified ({checks['detail']})"
    if checks["verified"] is False:
        return f"MISMATCH: {checks['detail']} (runs need --allow-unverified)"
    return f"not checked ({checks['detail']})"


def _print_report(report: dict[str, Any]) -> None:
    click.echo(f"{report['dataset']}")
    first = ("source", "license", "location")
    shown = [k for k in first if report.get(k) not in (None, "", [], {})]
    shown += [k for k in report if k not in (*first, "dataset", "checksums", "splits")]
    for key in shown:  # everything the dataset's info() returned
        value = report[key]
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        click.echo(f"  {key + ':':10} {value}")
    click.echo(f"  {'checksums:':10} {_status(report['checksums'])}")
    rows = []
    for split, s in report["splits"].items():
        counts = list(s["classes"].values())
        balance = f"{len(counts)} classes, {min(counts):,}-{max(counts):,} each" if counts else "unlabelled"
        rows.append([split, f"{s['n']:,}", "x".join(map(str, s["shape"])), balance,
                     f"{s['load_seconds']:.2f}", f"{s['memory_mb']:.1f}"])
    click.echo("")
    click.echo(table(rows, ["split", "images", "shape", "classes", "load s", "memory MB"]))


