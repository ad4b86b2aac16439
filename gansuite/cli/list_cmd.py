"""``gansuite list``, ``gansuite show`` and ``gansuite plugins``: torch-free views of the registry."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from gansuite._host.manager import HOOKS
from gansuite._host.options import describe_type
from gansuite.cli._common import echo_json, load_catalog, table
from gansuite.contract.specs import DatasetSpec, EvalSpec, ModelSpec, ProbeSpec, Spec

__all__ = ["list_cmd", "show_cmd", "plugins_cmd", "spec_to_dict"]


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def spec_to_dict(spec: Spec) -> dict[str, Any]:
    """Everything ``show --json`` prints about a spec."""
    from gansuite._host.options import _hints

    hints = _hints(spec.config) if spec.config is not None else {}
    out: dict[str, Any] = {
        "name": spec.name,
        "kind": spec.kind,
        "summary": spec.summary,
        "paper": spec.paper,
        "license": spec.license,
        "tags": list(spec.tags),
        "notes": list(spec.notes),
        "plugin": spec.plugin.name if spec.plugin else None,
        "distribution": spec.plugin.distribution if spec.plugin else None,
        "version": spec.plugin.version if spec.plugin else None,
        "options": [
            {
                "name": f.name,
                "type": describe_type(hints.get(f.name, f.type)),
                "default": _default(f),
                "help": f.metadata.get("help", ""),
            }
            for f in spec.option_fields()
        ],
    }
    if isinstance(spec, ModelSpec):
        out["deviations"] = list(spec.deviations)
        out["imports_checkpoints"] = spec.importer is not None
    if isinstance(spec, ProbeSpec):
        out["needs"] = list(spec.needs)
    if isinstance(spec, DatasetSpec):
        out.update(splits=list(spec.splits), train_split=spec.train_split, image_size=spec.image_size,
                   channels=spec.channels, num_classes=spec.num_classes, source=spec.source)
    if isinstance(spec, EvalSpec):
        out.update(dataset=spec.dataset, probe=spec.probe, train_split=spec.train_split,
                   test_split=spec.test_split, params=dict(spec.params), train_budget=spec.train_budget,
                   train_steps=spec.train_steps)
    return out


@click.command("list")
@click.argument("kind", required=False)
@click.argument("pattern", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(kind: str | None, pattern: str | None, as_json: bool) -> None:
    """List registered names of KIND (models, datasets, dedup, probes, evals), or all.

    PATTERN is an fnmatch filter, e.g. gansuite list models 'dcgan*'.
    """
    catalog = load_catalog()
    kinds = [catalog.registry(kind).plural] if kind else list(HOOKS)
    listing = {k: catalog.registry(k).specs(pattern) for k in kinds}
    if as_json:
        payload = {k: [{"name": s.name, "summary": s.summary,
                        "plugin": s.plugin.name if s.plugin else None} for s in specs]
                   for k, specs in listing.items()}
        echo_json(payload[kinds[0]] if kind else payload)
        return
    for k, specs in listing.items():
        if not kind:
            click.echo(f"{k}:")
        for s in specs:
            click.echo(f"{'  ' if not kind else ''}{s.name:<24} {s.summary}")
        if not specs and kind:
            click.echo(f"No {k} match {pattern!r}." if pattern else f"No {k} registered.")


@click.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_cmd(name: str, as_json: bool) -> None:
    """Show a registered NAME: summary, paper, plugin and version, and every option."""
    spec = load_catalog().find(name)
    info = spec_to_dict(spec)
    if as_json:
        echo_json(info)
        return
    click.echo(f"{info['name']} ({info['kind']}): {info['summary']}")
    plugin = f"{info['plugin']} ({info['distribution']} {info['version']})"
    for label, key in (("paper", "paper"), ("license", "license"), ("source", "source"),
                       ("dataset", "dataset"), ("probe", "probe"), ("splits", "splits"), ("needs", "needs")):
        if info.get(key):
            value = ", ".join(info[key]) if isinstance(info[key], list) else info[key]
            click.echo(f"  {label}: {value}")
    if info["kind"] == "dataset":
        classes = info["num_classes"]
        click.echo(f"  image size: {info['image_size']}x{info['image_size']} (models are built at it unless "
                   "--image-size is given)")
        click.echo(f"  channels: {info['channels']}")
        click.echo(f"  classes: {classes if classes is not None else 'not declared (labels as the files hold them)'}")
        click.echo(f"  training split: {info['train_split']}")
    click.echo(f"  plugin: {plugin}")
    if info.get("imports_checkpoints"):
        click.echo("  imports checkpoints its original code saved: gansuite eval --generator G.pth "
                   f"[--discriminator D.pth] --model {info['name']}")
    if info.get("train_steps"):
        click.echo(f"  default training: {info['train_steps']:,} steps (when no --max-steps/--epochs/--time-budget)")
    elif info.get("train_budget"):
        click.echo(f"  default training budget: {info['train_budget']:.0f} s (when no --max-steps/--epochs/--time-budget)")
    if info.get("params"):
        click.echo("  params: " + ", ".join(f"{k}={v}" for k, v in info["params"].items()))
    for note in info["notes"]:
        click.echo(f"  note: {note}")
    for dev in info.get("deviations", []):
        click.echo(f"  deviates from the paper: {dev}")
    if info["options"]:
        click.echo("  options (-o key=value):")
        rows = [[o["name"], o["type"], repr(o["default"]), o["help"]] for o in info["options"]]
        click.echo("\n".join("    " + line for line in table(rows, ["name", "type", "default", "help"]).splitlines()))
    else:
        click.echo("  options: none")


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_cmd(as_json: bool) -> None:
    """Installed plugins: distribution, version and what each registered."""
    catalog = load_catalog()
    rows: list[dict[str, Any]] = [{"name": r.info.name, "distribution": r.info.distribution, "version": r.info.version,
             "module": r.info.module, "registered": r.registered, "errors": r.errors}
            for r in catalog.plugins]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        what = "; ".join(f"{k}: {', '.join(v)}" for k, v in r["registered"].items()) or "nothing"
        status = "  (FAILED, see warning)" if r["errors"] else ""
        click.echo(f"{r['name']:<12} {r['distribution']} {r['version']}{status}\n    {what}")
