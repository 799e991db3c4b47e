"""A second, empty database of the same kind as the test's, to import an export into."""

from __future__ import annotations

import itertools
import os

import pytest

_n = itertools.count()


@pytest.fixture
def fresh_engine(db_url, tmp_path, request):
    from db.engine import make_engine
    from db.migrate import upgrade

    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(f"fresh{os.getpid()}_{next(_n)}")
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()
