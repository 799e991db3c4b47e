"""Fixtures for the clustering tests: the real embedding model, and one embedded study copied per test.

Embedding is the slow part (two shared cores), so 30 real DeepSeek-R1 traces are
embedded once per session into a SQLite file; each test gets its own copy.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

N_TRACES = 30


@pytest.fixture(scope="session")
def st_model():
    from pipeline.local_models import load_embedding_model

    return load_embedding_model()


@dataclass(frozen=True)
class EmbeddedTemplate:
    path: Path
    study_id: int
    response_ids: list[int]


@pytest.fixture(scope="session")
def embedded_template(tmp_path_factory, st_model) -> EmbeddedTemplate:
    from db.engine import make_engine, session_scope
    from db.migrate import upgrade
    from pipeline.cluster import embed_responses
    from tests.factories import add_medrbench_r1, make_study

    path = tmp_path_factory.mktemp("cluster-template") / "study.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with session_scope(engine) as s:
        study = make_study(s, "clustered")
        ids = [r.id for r in add_medrbench_r1(s, study, limit=N_TRACES)]
        study_id = study.id
    with session_scope(engine) as s:
        embed_responses(s, study_id, progress=False, model=st_model)
    with engine.connect() as conn:  # fold the WAL into the file so a plain copy is complete
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return EmbeddedTemplate(path, study_id, ids)


@pytest.fixture
def embedded(embedded_template, tmp_path):
    """(engine, study id, response ids) of a fresh copy of the embedded study."""
    from db.engine import make_engine

    path = tmp_path / "embedded.db"
    shutil.copy(embedded_template.path, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine, embedded_template.study_id, embedded_template.response_ids
    engine.dispose()
