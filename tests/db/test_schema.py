"""The schema: migrations create it on both databases and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel, select

from db.engine import database_url, make_engine, session_scope
from db.migrate import current_revision, head_revision, upgrade
from db.models import Case, CaseSet


def test_migrations_build_the_models_schema(engine):
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), SQLModel.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_upgrade_is_idempotent(engine):
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"case", "caseset", "response", "annotation", "annotationevent", "finallabel"} <= tables


def test_foreign_keys_are_enforced(engine):
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), session_scope(engine) as s:
        s.add(Case(case_set_id=999, case_key="x", vignette="v", gold_diagnosis="g", content_hash="h"))


def test_session_scope_rolls_back_everything_on_error(engine):
    try:
        with session_scope(engine) as s:
            s.add(CaseSet(name="a"))
            s.flush()
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with Session(engine) as s:
        assert s.exec(select(CaseSet)).all() == []


def test_sqlite_pragmas(tmp_path):
    eng = make_engine(str(tmp_path / "x.db"))
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_database_url_setting(monkeypatch, tmp_path):
    monkeypatch.delenv("DXTRACE_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert database_url() == f"sqlite:///{tmp_path / 'dxtrace.db'}"
    monkeypatch.setenv("DXTRACE_DB", "postgresql://u:p@h/db")
    assert database_url() == "postgresql+psycopg://u:p@h/db"
    assert database_url("other.db") == f"sqlite:///{tmp_path / 'other.db'}"
