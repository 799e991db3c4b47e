"""`python -m pipeline`: one subcommand per module in this package.

A subcommand is registered with the @command decorator in its own module, so a
new feature adds a module here and touches nothing else.

Only the chosen subcommand's module is imported: the modules pull in pandas,
statsmodels, sentence-transformers and the like, and `python -m pipeline --help`
should not pay for all of them. The list of commands (name, help, order) is read
from the modules' source; a command whose decorator is not plain literals is
found by importing its module.

Conventions every subcommand follows (tests/pipeline/test_cli_conventions.py walks the parser):
`--study` names the study and may be left out when the database holds one study;
output formats are chosen with `--format` (comma-separated); every flag has help text
and --help shows its default; long steps show a progress bar unless `--no-progress`.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import DxTraceError


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], int | None]
    arguments: Callable[[argparse.ArgumentParser], None] | None
    order: int


@dataclass(frozen=True)
class _Entry:
    """A subcommand as the source declares it, before its module is imported."""

    name: str
    help: str
    order: int
    module: str


_COMMANDS: dict[str, Command] = {}

# Third-party progress bars and chatter (tqdm in sentence-transformers, the hub, transformers): our own
# bars say what is happening, theirs would interleave stray lines with them.
_QUIET_ENV = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
}


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


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every flag's help ends with its default, unless the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text.lower()
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or default == []
            or not action.option_strings
        ):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, list | tuple) else "%(default)s"
        return f"{text} (default: {shown})"


_DB_HELP = "study database: a SQLite path or a SQLAlchemy URL (default: $DXTRACE_DB or ./dxtrace.db)"


def _module_names() -> list[str]:
    return [f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]


def _literal(node: ast.AST | None):
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


def _declared(module: str) -> list[_Entry] | None:
    """The @command decorators of a module, read from its source; None when one is not plain literals."""
    path = Path(__path__[0]) / (module.rsplit(".", 1)[1] + ".py")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for dec in node.decorator_list:
            if not (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Name) and dec.func.id == "command"):
                continue
            kw = {k.arg: k.value for k in dec.keywords}
            name = _literal(dec.args[0] if dec.args else kw.get("name"))
            help_ = _literal(dec.args[1] if len(dec.args) > 1 else kw.get("help"))
            order = _literal(kw.get("order")) if "order" in kw else 50
            if not isinstance(name, str) or not isinstance(help_, str) or not isinstance(order, int):
                return None
            out.append(_Entry(name, help_, order, module))
    return out


def _index() -> dict[str, _Entry]:
    """Every subcommand: name, help, order and module, importing only modules whose source cannot say."""
    entries: dict[str, _Entry] = {}
    for module in _module_names():
        declared = _declared(module)
        if declared is None:
            importlib.import_module(module)
            declared = [
                _Entry(c.name, c.help, c.order, module) for c in _COMMANDS.values() if c.run.__module__ == module
            ]
        for entry in declared:
            entries[entry.name] = entry
    return entries


def _chosen(argv: list[str], names: set[str]) -> str | None:
    """The subcommand named on the command line, skipping the global options and their values."""
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token == "--db":
            skip = True
            continue
        if token.startswith("-"):
            continue
        return token if token in names else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; with argv, only the subcommand it names gets its arguments (and its module imported)."""
    index = _index()
    chosen = _chosen(argv, set(index)) if argv is not None else None
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="DxTrace: run, grade and analyse diagnostic reasoning studies on premises.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--db", metavar="URL", default=None, help=_DB_HELP)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in sorted(index.values(), key=lambda e: (e.order, e.name)):
        p = sub.add_parser(entry.name, help=entry.help, description=entry.help, formatter_class=HelpFormatter)
        if argv is not None and entry.name != chosen:
            continue
        importlib.import_module(entry.module)
        cmd = _COMMANDS[entry.name]
        # --db also after the subcommand; SUPPRESS keeps one given before it when not repeated.
        p.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=_DB_HELP)
        if cmd.arguments:
            cmd.arguments(p)
            _use_formatter(p)
        p.set_defaults(_command=cmd)
    return parser


def _use_formatter(parser: argparse.ArgumentParser) -> None:
    """Nested subcommands (users add, ...) show their defaults too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.formatter_class = HelpFormatter
                _use_formatter(sub)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    debug = "--debug" in argv or bool(os.environ.get("DXTRACE_DEBUG"))
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "_command", None):
            parser.print_help()
            return 2
        return int(args._command.run(args) or 0)
    except DxTraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal error: one line unless asked for more
        if debug:
            traceback.print_exc()
        else:
            print(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)", file=sys.stderr)
        return 1
