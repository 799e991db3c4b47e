"""Shared fixtures: every storage test runs on a SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

import pytest

from tests._postgres import PostgresServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("sqlite", "postgresql")
_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    root = Path(tempfile.mkdtemp(prefix="dxtrace-pg-"))
    os.chmod(root, 0o755)
    server = PostgresServer(root / "pg").start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """A fresh, empty database of each kind: a SQLite file, and a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"t{os.getpid()}_{next(_counter)}")


@pytest.fixture
def engine(db_url):
    """A migrated study database; disposed after the test."""
    from db.engine import make_engine
    from db.migrate import upgrade

    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path):
    """A migrated SQLite study database, for tests whose subject is not storage."""
    from db.engine import make_engine
    from db.migrate import upgrade

    eng = make_engine(f"sqlite:///{tmp_path / 'study.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()
