"""Alembic migrations, run programmatically so no alembic.ini has to be found."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


_ATTEMPTS = 5


class SchemaTooNew(RuntimeError):
    """The database carries a schema revision this DxTrace does not know: a newer DxTrace wrote it."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to the newest schema (creates it when empty).

    A revision we do not know means a newer DxTrace made the database: refuse rather than guess.
    """
    current = current_revision(engine)
    known = {rev.revision for rev in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
    if current is not None and current not in known:
        raise SchemaTooNew(
            f"this database was written by a newer DxTrace (schema revision {current}); upgrade DxTrace to open it"
        )
    for attempt in range(_ATTEMPTS):
        try:
            command.upgrade(alembic_config(engine), revision)
            return
        except DBAPIError:
            # Several processes creating the same empty database at once: one wins, the others find
            # its tables. Anything else (a file that is not a database) fails again and is raised.
            if attempt + 1 == _ATTEMPTS:
                raise
            engine.dispose()
            time.sleep(0.2 * (attempt + 1))
            if current_revision(engine) == head_revision():
                return


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
