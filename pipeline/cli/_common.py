"""Helpers shared by the subcommands: the database, and tables on screen."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError

from db.engine import get_engine, redact
from db.migrate import SchemaTooNew, upgrade
from pipeline.errors import DxTraceError

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
