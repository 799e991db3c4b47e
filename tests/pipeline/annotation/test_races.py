"""Races between processes, on SQLite and PostgreSQL: two tabs saving one item, first use of a study by
several annotators, several `init`s of an empty database."""

from __future__ import annotations

import subprocess
import sys
import time

from sqlmodel import select

from db.engine import make_engine, session_scope
from db.models import Annotation, AnnotationEvent, CodebookVersion, Study
from pipeline.annotation import assign
from pipeline.annotation._labels import snapshot
from tests.conftest import REPO
from tests.pipeline.annotation.conftest import build_world

WORKER = [sys.executable, "-m", "tests.pipeline.annotation._race_worker"]


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _all(procs: list[subprocess.Popen]) -> list[tuple[int, str]]:
    out = []
    for p in procs:
        _, err = p.communicate(timeout=600)
        out.append((p.returncode, err))
    return out


def test_two_tabs_saving_one_item_keep_an_audit_trail_that_replays(engine):
    w = build_world(engine, n_annotators=1, limit=30)
    rid = w.incorrect[0]
    me = w.people["ann1"]
    with session_scope(engine) as s:
        assign(s, w.study_id, response_ids=[rid], annotator_ids=[me], per_item=1)
    start = time.time() + 8  # both processes import and connect first, then save at the same moment
    args = [str(w.study_id), str(rid), str(me)]
    procs = [
        subprocess.Popen(
            [*WORKER, "saves", _url(engine), *args, tab, "6", str(start)], cwd=REPO, stderr=subprocess.PIPE, text=True
        )
        for tab in ("A", "B")
    ]
    for code, err in _all(procs):
        assert code == 0, err
    with session_scope(engine) as s:
        [annotation] = s.exec(select(Annotation).where(Annotation.response_id == rid)).all()
        events = s.exec(
            select(AnnotationEvent).where(AnnotationEvent.annotation_id == annotation.id).order_by(AnnotationEvent.id)
        ).all()
        assert events[0].action == "create" and events[0].before is None
        for previous, event in zip(events, events[1:], strict=False):
            assert event.action == "update" and event.before == previous.after  # nothing lost between events
        assert events[-1].after == snapshot(annotation)  # the trail replays to the stored labels
        assert len(events) == 12  # every save changed the description, so every save is an event


def test_first_use_by_several_annotators_pins_one_codebook(engine):
    with session_scope(engine) as s:
        study = Study(name="fresh")
        s.add(study)
        s.flush()
        study_id = study.id
    start = time.time() + 8
    procs = [
        subprocess.Popen(
            [*WORKER, "pin", _url(engine), str(study_id), str(start)], cwd=REPO, stderr=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    for code, err in _all(procs):
        assert code == 0, err
    with session_scope(engine) as s:
        assert len(s.exec(select(CodebookVersion)).all()) == 1
        assert s.get(Study, study_id).codebook_version_id is not None


def test_concurrent_init_of_an_empty_database(db_url):
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pipeline", "--db", db_url, "users", "list"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert "no accounts yet" in out
    engine = make_engine(db_url)
    from db.migrate import is_current

    assert is_current(engine)
    engine.dispose()
