"""Development tool: rewrite the initial migration from db/models.py.

Only for the first, unreleased schema version: once a study database exists in
the wild, every change gets a new migration instead
(`alembic revision --autogenerate` against db/migrations).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from db.engine import make_engine
from db.migrate import MIGRATIONS, alembic_config

INITIAL = "0001"


def main() -> None:
    versions = MIGRATIONS / "versions"
    for old in versions.glob(f"{INITIAL}_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
        command.revision(alembic_config(engine), message="initial schema", autogenerate=True, rev_id=INITIAL)
        engine.dispose()
    print(f"rewrote {next(versions.glob(f'{INITIAL}_*.py'))}")


if __name__ == "__main__":
    main()
