"""`assign --to/--unassign/--newcomer` and `users --temporary`, as a lead runs them (one process each)."""

from __future__ import annotations

from sqlmodel import select

from db.engine import session_scope
from db.models import Annotation, Annotator, Assignment
from pipeline.annotation import AnnotationInput, annotator_queue, assign, authenticate, save_annotation
from tests.pipeline.annotation.conftest import build_world
from tests.pipeline.annotation.test_cli import cli


def _held(engine, w, who: str) -> list[int]:
    with session_scope(engine) as s:
        return [q.response_id for q in annotator_queue(s, w.study_id, w.people[who])]


def test_move_unassign_and_newcomer_from_the_cli(sqlite_engine):
    w = build_world(sqlite_engine)
    db = str(sqlite_engine.url)
    with session_scope(sqlite_engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect, annotator_ids=[w.people["ann1"], w.people["ann2"]], per_item=1)
    labelled = _held(sqlite_engine, w, "ann1")[0]
    with session_scope(sqlite_engine) as s:
        save_annotation(
            s,
            study_id=w.study_id,
            response_id=labelled,
            annotator_id=w.people["ann1"],
            labels=AnnotationInput(error_modes=["other"], other_description="dose error"),
        )
    out = cli("assign", "--move-from", "ann1", "--to", "ann3", "--dry-run", db=db)
    assert out.returncode == 0, out.stderr
    assert "would change: 36 item(s) moved; 1 refused" in out.stdout and "saved labels" in out.stdout
    assert _held(sqlite_engine, w, "ann3") == []
    out = cli("assign", "--from", "ann1", "--to", "ann3", db=db)
    assert out.returncode == 0 and "36 item(s) moved" in out.stdout
    assert _held(sqlite_engine, w, "ann1") == [labelled] and len(_held(sqlite_engine, w, "ann3")) == 36
    # only the labelled item is left: refused, exit 2, one line
    out = cli("assign", "--from", "ann1", "--unassign", db=db)
    assert out.returncode == 2 and out.stderr.startswith("error: nothing to change: 1 refused")
    assert "Traceback" not in out.stderr
    out = cli("assign", "--from", "ann1", "--unassign", "--keep-annotations", db=db)
    assert out.returncode == 0 and "1 item(s) unassigned; 1 annotation(s) kept" in out.stdout
    with session_scope(sqlite_engine) as s:
        assert s.exec(select(Annotation.annotator_id)).one() == w.people["ann1"]
    # a newcomer takes an even share of what is still to do
    with session_scope(sqlite_engine) as s:
        ann4 = Annotator(username="ann4", password_hash="x")
        s.add(ann4)
        s.flush()
        w.people["ann4"] = ann4.id
    out = cli("assign", "--newcomer", "ann4", db=db)
    assert out.returncode == 0, out.stderr
    loads = [len(_held(sqlite_engine, w, u)) for u in ("ann2", "ann3", "ann4")]
    assert sum(loads) == 73 and max(loads) - min(loads) <= 1
    # bad flags: one line each, exit 2, nothing changed
    with session_scope(sqlite_engine) as s:
        before = len(s.exec(select(Assignment)).all())
    for args, message in [
        (("--to", "ann2", "--cases", "no-such-case"), "cases: not assigned to anyone in this study: no-such-case"),
        (("--to", "nobody", "--from", "ann2"), "to: no account 'nobody'"),
        (("--to", "ann2"), "items: choose items"),
        (("--newcomer", "ann4", "--from", "ann2"), "--newcomer: chooses the items itself"),
        (("--newcomer", "ann4", "--mode", "extra"), "count: say how many items"),
        (("--to", "ann2", "--from", "ann3", "--annotators", "ann1"), "--annotators: is for assigning new items"),
        ((), "--annotators: say who gets the items"),
    ]:
        out = cli("assign", *args, db=db)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1
    with session_scope(sqlite_engine) as s:
        assert len(s.exec(select(Assignment)).all()) == before


def test_users_temporary_password_is_printed_once_and_works(sqlite_engine):
    build_world(sqlite_engine, n_annotators=1)
    db = str(sqlite_engine.url)
    out = cli("users", "add", "dr.cy", "--temporary", db=db)
    assert out.returncode == 0, out.stderr
    temporary = out.stdout.split("temporary password (shown once): ")[1].split()[0]
    with session_scope(sqlite_engine) as s:
        assert authenticate(s, "dr.cy", temporary) is not None
    out = cli("users", "passwd", "dr.cy", "--temporary", db=db)
    again = out.stdout.split("temporary password (shown once): ")[1].split()[0]
    with session_scope(sqlite_engine) as s:
        assert again != temporary and authenticate(s, "dr.cy", again) is not None
    out = cli("users", "passwd", "dr.cy", "--temporary", "--password-stdin", db=db, stdin="a long passphrase\n")
    assert out.returncode == 2 and "--temporary makes the password" in out.stderr
