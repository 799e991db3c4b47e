"""`python -m pipeline`: one subcommand per module in this package.

A subcommand is registered with the @command decorator in its own module, so a
new feature adds a module here and touches nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.errors import DxTraceError


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], int | None]
    arguments: Callable[[argparse.ArgumentParser], None] | None
    order: int


_COMMANDS: dict[str, Command] = {}


def command(
    name: str,
    help: str,
    arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    order: int = 50,
):
    """Register `fn(args) -> exit code` as the subcommand `name`."""

    def register(fn: Callable[[argparse.Namespace], int | None]):
        _COMMANDS[name] = Command(name, help, fn, arguments, order)
        return fn

    return register


def _discover() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_DB_HELP = "study database: a SQLite path or a SQLAlchemy URL (default: $DXTRACE_DB or ./dxtrace.db)"


def build_parser() -> argparse.ArgumentParser:
    _discover()
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="DxTrace: run, grade and analyse diagnostic reasoning studies on premises.",
    )
    parser.add_argument("--db", metavar="URL", default=None, help=_DB_HELP)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in sorted(_COMMANDS.values(), key=lambda c: (c.order, c.name)):
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        # --db also after the subcommand; SUPPRESS keeps one given before it when not repeated.
        p.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=_DB_HELP)
        if cmd.arguments:
            cmd.arguments(p)
        p.set_defaults(_command=cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_command", None):
        parser.print_help()
        return 2
    try:
        return int(args._command.run(args) or 0)
    except DxTraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal error: one line unless asked for more
        if args.debug or os.environ.get("DXTRACE_DEBUG"):
            traceback.print_exc()
        else:
            print(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)", file=sys.stderr)
        return 1
