"""Access: studies and grading only where assigned and allowed; sign-in lockout kept in the database;
private database and credentials files."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text
from sqlmodel import select

from db.engine import make_engine, session_scope
from db.migrate import upgrade
from db.models import Annotator, Grade, Study
from pipeline.accuracy import record_clinician_grade
from pipeline.annotation import (
    MAX_FAILED_SIGN_INS,
    assign,
    authenticate,
    check_password,
    create_annotator,
    is_locked,
    may_grade,
    set_can_grade,
    studies_for,
)
from pipeline.cli import main
from pipeline.demo import read_credentials, write_credentials
from pipeline.errors import DxTraceError
from tests.pipeline.annotation.conftest import PASSWORD, build_world


def test_annotators_see_and_grade_only_assigned_studies_with_the_right(engine):
    w = build_world(engine, n_annotators=2, limit=40)
    with session_scope(engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect[:4], annotator_ids=[w.people["ann1"]], per_item=1)
        other = Study(name="other")
        s.add(other)
        s.flush()
        other_id = other.id
    rid = w.incorrect[0]
    with session_scope(engine) as s:
        ann1, ann2, lead = (s.get(Annotator, w.people[n]) for n in ("ann1", "ann2", "lead"))
        assert [x.name for x in studies_for(s, ann2)] == []  # nothing assigned: no study at all
        assert [x.name for x in studies_for(s, ann1)] == ["test-study"]
        assert {x.name for x in studies_for(s, lead)} == {"test-study", "other"}
        assert may_grade(s, lead, w.study_id) and may_grade(s, lead, other_id)
        assert not may_grade(s, ann1, w.study_id)  # assigned, but no grading right in the study yet
        assert may_grade(s, ann1, w.study_id, rid)  # an item the lead assigned to them: its grade is theirs to fix
        assert not may_grade(
            s, ann1, w.study_id, next(r for r in w.all_ids if r not in w.incorrect[:4])
        )  # not assigned to them
    with session_scope(engine) as s, pytest.raises(DxTraceError, match="may not grade in this study"):
        record_clinician_grade(
            s,
            response_id=next(r for r in w.all_ids if r not in w.incorrect[:4]),
            annotator_id=w.people["ann1"],
            rank=None,
        )
    with session_scope(engine) as s, pytest.raises(DxTraceError, match="may not grade"):
        set_can_grade(s, "ann2", True)
        record_clinician_grade(s, response_id=rid, annotator_id=w.people["ann2"], rank=None)  # right, no assignment
    with session_scope(engine) as s:
        set_can_grade(s, "ann1", True)
        assert not may_grade(s, s.get(Annotator, w.people["ann1"]), other_id)
        record_clinician_grade(s, response_id=rid, annotator_id=w.people["ann1"], rank=None)
    with session_scope(engine) as s:
        graded = s.exec(select(Grade).where(Grade.response_id == rid, Grade.status == "clinician")).all()
        assert [g.grader for g in graded] == ["ann1"]


def test_sign_in_lockout_is_per_account_in_the_database_and_a_lead_lifts_it(engine):
    with session_scope(engine) as s:
        create_annotator(s, "dr_b", PASSWORD, "annotator")
    for _ in range(MAX_FAILED_SIGN_INS):
        with session_scope(engine) as s:  # every attempt a new session: a reload does not reset the count
            assert authenticate(s, "dr_b", "wrong password!") is None
    with session_scope(engine) as s:
        assert authenticate(s, "dr_b", PASSWORD) is None  # locked, even with the right password
        assert is_locked(s.exec(select(Annotator).where(Annotator.username == "dr_b")).one())
    url = engine.url.render_as_string(hide_password=False)
    assert main(["--db", url, "users", "unlock", "dr_b"]) == 0
    with session_scope(engine) as s:
        person = authenticate(s, "dr_b", PASSWORD)
        assert person is not None and person.failed_sign_ins == 0 and person.locked_until is None


def test_a_good_sign_in_resets_the_count(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        create_annotator(s, "dr_c", PASSWORD, "annotator")
    for _ in range(MAX_FAILED_SIGN_INS - 1):
        with session_scope(sqlite_engine) as s:
            authenticate(s, "dr_c", "nope nope nope")
    with session_scope(sqlite_engine) as s:
        assert authenticate(s, "dr_c", PASSWORD) is not None
    with session_scope(sqlite_engine) as s:
        authenticate(s, "dr_c", "nope nope nope")
        assert authenticate(s, "dr_c", PASSWORD) is not None


@pytest.mark.parametrize("password", [" " * 12, "\t\n" * 8, "\u3000" * 12])
def test_whitespace_passwords_are_refused(password):
    with pytest.raises(DxTraceError, match="only spaces"):
        check_password(password, "someone")


def test_new_sqlite_database_and_its_wal_and_shm_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        db = tmp_path / "study.db"
        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        with engine.connect() as conn:  # an open connection keeps -wal and -shm in place
            conn.execute(text("select count(*) from study"))
            files = [db, db.with_name("study.db-wal"), db.with_name("study.db-shm")]
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files if f.exists()}
        engine.dispose()
    finally:
        os.umask(old)
    assert modes["study.db"] == 0o600 and len(modes) == 3
    assert set(modes.values()) == {0o600}, modes


def test_credentials_file_is_private_and_holds_only_current_passwords(tmp_path):
    path = tmp_path / "credentials.txt"
    path.write_text("lead\told-password-1\nannotator\told-password-2\n", encoding="utf-8")
    path.chmod(0o644)
    write_credentials(path, {"lead": "new-password-1"}, still_current=lambda u, p: p == "old-password-2")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_credentials(path) == {"annotator": "old-password-2", "lead": "new-password-1"}
    write_credentials(path, {}, still_current=lambda u, p: False)
    assert read_credentials(path) == {} and stat.S_IMODE(path.stat().st_mode) == 0o600
