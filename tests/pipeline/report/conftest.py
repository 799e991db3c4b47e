"""One labelled study, embedded and clustered with the real model, shared by the report tests."""

from __future__ import annotations

import pytest

from db.engine import make_engine, session_scope
from db.migrate import upgrade
from tests.pipeline.export.study import build_labelled_study


@pytest.fixture(scope="session")
def clustered_study(tmp_path_factory):
    from pipeline.cluster import cluster_study, embed_responses

    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('report') / 'study.db'}")
    upgrade(eng)
    with session_scope(eng) as s:
        study = build_labelled_study(s, n_r1=30)
        embed_responses(s, study.id, progress=False)
        cluster_study(s, study.id, n_clusters=4)
    yield eng
    eng.dispose()
