"""The ``gansuite`` command line: one small module per command, loaded on demand.

This module is the one error boundary (:meth:`LazyGroup.main`, which ``click.testing.CliRunner``
invokes too): a :class:`gansuite.contract.errors.GansuiteError` becomes one
line on stderr (several only for several bad options) and exit status 2; ``--traceback`` or
``GANSUITE_DEBUG=1`` shows the traceback instead. Ctrl-C, SIGTERM and SIGHUP become the same one
line and exit status 2, saying how to resume; so does a file-system error (a full disk, a path
that cannot be written), naming the path.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click

from gansuite import __version__
from gansuite.contract.errors import GansuiteError

__all__ = ["main", "cli", "COMMANDS"]

# command name -> "module:attribute" (imported only when that command runs or its help is shown)
COMMANDS: dict[str, str] = {
    "list": "gansuite.cli.list_cmd:list_cmd",
    "show": "gansuite.cli.list_cmd:show_cmd",
    "plugins": "gansuite.cli.list_cmd:plugins_cmd",
    "run": "gansuite.cli.run_cmd:run_cmd",
    "eval": "gansuite.cli.eval_cmd:eval_cmd",
    "data": "gansuite.cli.data_cmd:data_group",
    "dedup": "gansuite.cli.dedup_cmd:dedup_cmd",
    "bench": "gansuite.cli.bench_cmd:bench_cmd",
    "results": "gansuite.cli.results_cmd:results_cmd",
    "compare": "gansuite.cli.results_cmd:compare_cmd",
    "study": "gansuite.cli.study_cmd:study_cmd",
}

HELP = {
    "list": "List registered models, datasets, dedup strategies, probes and evals.",
    "show": "Show one registered name: summary, paper, plugin, options.",
    "plugins": "List installed plugins and what each registered.",
    "run": "Train a model (and evaluate it) into a run folder.",
    "eval": "Evaluate a run's checkpoint, or a model trained elsewhere.",
    "data": "Inspect datasets.",
    "dedup": "Find duplicate images in a dataset.",
    "bench": "Run the throughput benchmarks; track them over time.",
    "results": "Aggregate run folders into one table.",
    "compare": "Compare two runs' metrics side by side.",
    "study": "Run a benchmark study (models x datasets x seeds) and aggregate it.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        ref = COMMANDS.get(cmd_name)
        if ref is None:
            return None
        module_name, _, attr = ref.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return None
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, HELP.get(name, "")) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if args and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=2)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise click.UsageError(f"Unknown command '{name}'.{hint} Run 'gansuite --help'.")
        return super().resolve_command(ctx, args)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             **kwargs: Any) -> Any:
        """Run the command line: exit 0, or 1 when a command says so, or 2 with one line per
        problem on stderr; stop signals become the same one line."""
        from gansuite.engine.interrupt import stop_signals

        args = list(sys.argv[1:] if args is None else args)
        if "--traceback" in args:
            os.environ["GANSUITE_DEBUG"] = "1"
        kwargs["standalone_mode"] = False
        run = super().main
        with stop_signals():
            rc = _guarded(lambda: run(args=args, prog_name=prog_name or "gansuite", **kwargs))
        if isinstance(rc, int) and rc:
            sys.exit(rc)
        return rc


def _debug() -> bool:
    return os.environ.get("GANSUITE_DEBUG", "") not in {"", "0"}


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gansuite")
@click.option("--traceback", "show_traceback", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, show_traceback: bool) -> None:
    """gansuite: train, evaluate and benchmark GANs through plugins.

    \b
    Examples:
      gansuite list models
      gansuite run --model dcgan --dataset digits --max-steps 200
      gansuite run --model dcgan --eval cifar10-svm --data-root DIR
    """
    if show_traceback:
        os.environ["GANSUITE_DEBUG"] = "1"


def _fail(message: str, code: int = 2) -> NoReturn:
    for line in str(message).strip().splitlines() or ["error"]:
        click.echo(f"Error: {line}", err=True)
    sys.exit(code)


_INTERRUPTED = ("Interrupted{by}. Work already written is kept; a training run continues with "
                "'gansuite run --resume RUN_DIR'.")

_OS_HINTS = {
    errno.ENOSPC: "free some space",
    errno.EDQUOT: "free some space",
    errno.EACCES: "check the permissions or choose another path",
    errno.EPERM: "check the permissions or choose another path",
    errno.EROFS: "the file system is read-only: choose another path",
    errno.ENAMETOOLONG: "choose a shorter path",
    errno.ENOTDIR: "a part of the path is a file: choose another path",
    errno.EISDIR: "the path is a folder: choose another path",
    errno.EEXIST: "the path exists: choose another path",
}


def os_error_line(exc: OSError) -> str:
    """One line for a file-system error: what, where, what to do."""
    what = exc.strerror or type(exc).__name__
    where = f": {exc.filename}" if exc.filename else ""
    hint = _OS_HINTS.get(exc.errno or 0, "check the path")
    return (f"{what}{where}; {hint}. Work already written is kept (a training run continues with "
            "'gansuite run --resume RUN_DIR').")


def _guarded(call: Callable[[], Any]) -> Any:
    """``call()``, with every failure a user can act on turned into :func:`_fail`."""
    try:
        return call()
    except click.exceptions.Abort as exc:  # click's wrapping of a KeyboardInterrupt
        name = getattr(exc.__cause__ or exc.__context__, "signal_name", "")
        _fail(_INTERRUPTED.format(by=f" by {name}" if name and name != "SIGINT" else ""), 2)
    except click.ClickException as exc:
        if _debug():
            raise
        _fail(exc.format_message(), 2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except GansuiteError as exc:
        if _debug():
            raise
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt as exc:
        if _debug():
            raise
        name = getattr(exc, "signal_name", "")
        _fail(_INTERRUPTED.format(by=f" by {name}" if name and name != "SIGINT" else ""), 2)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as exc:
        if _debug():
            raise
        _fail(os_error_line(exc), 2)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and of ``python -m gansuite``."""
    cli.main(args=argv, prog_name="gansuite")
