"""Helpers shared by the subcommands: the database, and tables on screen."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError

from db.engine import get_engine, redact
from db.migrate import SchemaTooNew, upgrade
from pipeline.errors import DxTraceError

T = TypeVar("T")

# Piped output (a log, CI) would otherwise wrap every table at 80 columns.
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(highlight=False, width=_WIDTH)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


def open_db(args: argparse.Namespace) -> Engine:
    """The study database named by --db, brought to the newest schema."""
    engine = get_engine(args.db)
    try:
        upgrade(engine)
    except SchemaTooNew as exc:
        raise DxTraceError(f"{redact(str(engine.url))}: {exc}") from None
    except DatabaseError as exc:  # also "file is not a database" (a --db path to some other file)
        raise DxTraceError(
            f"cannot open the database {redact(str(engine.url))}: {exc.orig} (is it a DxTrace database?)"
        ) from None
    return engine


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def add_map_argument(p: argparse.ArgumentParser, fields: Sequence[str]) -> None:
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help=f"read FIELD ({', '.join(fields)}) from source COLUMN (repeatable), e.g. --map {fields[0]}=id",
    )


def parse_field_map(items: list[str], fields: Sequence[str]) -> dict[str, str]:
    """--map FIELD=COLUMN options as {field: column}; a wrong one is named."""
    out = {}
    for item in items:
        field, sep, column = item.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not field or not column:
            raise DxTraceError(f"--map {item!r}: expected FIELD=COLUMN")
        if field not in fields:
            raise DxTraceError(f"--map {item!r}: unknown field; known: {', '.join(fields)}")
        out[field] = column
    return out


# ------------------------------------------------------------------ conventions shared by the subcommands
def add_study_argument(p: argparse.ArgumentParser, help: str = "study name or id") -> None:
    """--study, optional when the database holds one study (resolve it with pipeline.studies.resolve_study)."""
    p.add_argument("--study", default=None, help=f"{help} (default: the only study in the database)")


def add_format_argument(
    p: argparse.ArgumentParser, formats: Sequence[str], default: Sequence[str] | None = None
) -> None:
    """--format a,b,c: the one spelling of output formats; the value is a list, checked against formats."""
    known = list(formats)

    def parse(text: str) -> list[str]:
        chosen = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [f for f in chosen if f not in known]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"choose from {','.join(known)} (got {text!r})")
        return chosen

    p.add_argument(
        "--format",
        dest="formats",
        type=parse,
        default=list(default or known),
        metavar="FMT[,FMT]",
        help=f"output formats, comma-separated, from {','.join(known)}",
    )


def add_progress_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


class _Bar:
    """A progress bar on stderr; a no-op when switched off."""

    def __init__(self, progress, task):
        self._progress, self._task = progress, task

    def advance(self, n: int = 1, description: str | None = None) -> None:
        if self._progress is not None:
            kw = {"description": description} if description else {}
            self._progress.update(self._task, advance=n, **kw)

    def describe(self, description: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=description)

    def step(self, done: int, total: int, what: str) -> None:
        """A callback for library functions: done of total steps, now doing `what`."""
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total, description=what)


@contextmanager
def progress_bar(args: argparse.Namespace, description: str, total: int | None = None) -> Iterator[_Bar]:
    """A bar for a long step (total=None: a pulsing bar with the elapsed time). --no-progress turns it off.

    Only on a terminal: in a log file or a pipe a bar is noise, and the first line of stderr must be the error.
    """
    if getattr(args, "no_progress", False) or not err_console.is_terminal:
        yield _Bar(None, None)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err_console, transient=True) as progress:
        yield _Bar(progress, progress.add_task(description, total=total))


def track(args: argparse.Namespace, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar (see progress_bar)."""
    items = list(items) if total is None else items
    with progress_bar(args, description, total if total is not None else len(items)) as bar:  # type: ignore[arg-type]
        for item in items:
            yield item
            bar.advance()
