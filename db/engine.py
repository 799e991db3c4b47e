"""The one setting that picks the study database, and sessions on it.

A SQLite file by default (WAL, busy timeout, foreign keys on); PostgreSQL for a
team, by URL: DXTRACE_DB=postgresql+psycopg://user:pass@host/dbname.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

ENV_VAR = "DXTRACE_DB"
DEFAULT_PATH = "dxtrace.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def database_url(url: str | None = None) -> str:
    """The URL given, else $DXTRACE_DB, else a SQLite file in the working directory."""
    url = url or os.environ.get(ENV_VAR)
    if not url:
        return f"sqlite:///{Path(DEFAULT_PATH).resolve()}"
    if "://" not in url:  # a bare path means a SQLite file
        return f"sqlite:///{Path(url).resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # psycopg 3 is the driver we ship; the bare scheme would ask for psycopg2.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def json_loads(text: str | bytes):
    """A JSON column's value: orjson (a study reads millions of them: grades' details, diagnoses, ...), and the
    standard library for what orjson refuses but Python wrote (NaN, Infinity, integers over 64 bits)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _create_private(path: str | None) -> None:
    """Create a new SQLite file readable by its owner only; SQLite gives its -wal and -shm the same mode."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass  # an existing database keeps the mode its owner gave it
    except OSError:
        pass  # e.g. a missing folder: SQLite's own error says it better when it connects


def make_engine(url: str | None = None) -> Engine:
    """A new engine; prefer get_engine() to share one per URL."""
    url = database_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        _create_private(make_url(url).database)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, json_deserializer=json_loads
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, json_deserializer=json_loads)


@lru_cache(maxsize=16)
def _cached_engine(url: str) -> Engine:
    return make_engine(url)


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for a URL (or the configured default)."""
    return _cached_engine(database_url(url))


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back everything on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(database_url(url)).render_as_string(hide_password=True)
