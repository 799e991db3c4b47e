"""'No reasoning error' and the grade: the annotator says whether the answer is correct (the grade follows, by an
audited clinician grade) or the reasoning is sound on an ambiguous case (the grade stands, and the lead sees why)."""

from __future__ import annotations

from sqlmodel import select

from db.engine import session_scope
from db.models import Grade
from pipeline.accuracy import incorrect_response_ids
from pipeline.agreement import settle_final_labels
from pipeline.annotation import AnnotationInput, assign, save_annotation, settled_no_error
from tests.annotator.conftest import annotations_of, first_item, sign_in
from tests.pipeline.annotation.conftest import build_world
from tests.pipeline.annotation.test_regrade import add_auto_grade


def _world(engine):
    w = build_world(engine, n_annotators=2)
    with session_scope(engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect[:4], annotator_ids=[w.people["ann1"], w.people["ann2"]])
    rid = first_item(engine, w)
    add_auto_grade(engine, rid)
    return w, rid


def _clinician_grades(engine, rid: int) -> list[Grade]:
    with session_scope(engine) as s:
        return list(s.exec(select(Grade).where(Grade.response_id == rid, Grade.status == "clinician")))


def test_no_error_asks_why_and_the_answer_correct_turns_the_grade(sqlite_engine, make_app):
    w, rid = _world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine), "ann1")
    at.checkbox(key="lbl_mode_no_error").check().run()
    why = at.radio(key="lbl_no_error_why")
    assert why.value is None and len(why.options) == 2
    at.button(key="save").click().run()
    assert any("no reasoning error: say why" in e.value for e in at.error)  # by the save button, nothing written
    assert annotations_of(sqlite_engine, "ann1") == []
    at.radio(key="lbl_no_error_why").set_value("answer_correct").run()
    assert at.selectbox(key="lbl_no_error_rank").value == 1  # the grader's closest candidate
    at.selectbox(key="lbl_no_error_rank").set_value(2).run()
    at.button(key="save").click().run()
    assert not at.exception and not at.error
    [ann] = annotations_of(sqlite_engine, "ann1")
    assert ann.error_modes == ["no_error"]
    [g] = _clinician_grades(sqlite_engine, rid)
    assert (g.correct, g.rank, g.grader) == (True, 2, "ann1")
    assert g.details["note"] == "no reasoning error: the answer is correct" and g.details["previous_grade_id"]
    with session_scope(sqlite_engine) as s:
        assert rid not in incorrect_response_ids(s, w.study_id)
    assert "#### Item 2 of" in "".join(m.value for m in at.markdown)


def test_no_error_with_the_grade_standing_records_no_grade(sqlite_engine, make_app):
    w, rid = _world(sqlite_engine)
    at = sign_in(make_app(sqlite_engine), "ann1")
    at.checkbox(key="lbl_mode_no_error").check().run()
    at.radio(key="lbl_no_error_why").set_value("grade_stands").run()
    assert not [s for s in at.selectbox if s.key == "lbl_no_error_rank"]
    at.button(key="save").click().run()
    assert not at.exception and not at.error
    [ann] = annotations_of(sqlite_engine, "ann1")
    assert ann.error_modes == ["no_error"] and _clinician_grades(sqlite_engine, rid) == []
    with session_scope(sqlite_engine) as s:
        assert rid in incorrect_response_ids(s, w.study_id)


def test_lead_sees_the_settled_no_error_whose_grade_stands_and_can_turn_it(engine, make_app):
    w, rid = _world(engine)
    with session_scope(engine) as s:
        for who in ("ann1", "ann2"):
            save_annotation(
                s,
                study_id=w.study_id,
                response_id=rid,
                annotator_id=w.people[who],
                labels=AnnotationInput(["no_error"]),
            )
        settle_final_labels(s, w.study_id)
        [row] = settled_no_error(s, w.study_id)
    assert row.response_id == rid and not row.follows and row.why.startswith("the grade stands")
    assert row.grade == "wrong (none, dxtrace-grader-test)"
    at = sign_in(make_app(engine, "adjudication"), "lead")
    [box] = [e for e in at.expander if e.label.startswith("Settled 'no reasoning error'")]
    assert "the grade stands for 1" in box.label
    table = at.table[0].value
    assert list(table["response"]) == [rid] and table["why"].iloc[0].startswith("the grade stands")
    assert at.selectbox(key=f"adj_ne_rank_{rid}").options == ["1. Stable angina", "2. GERD"]
    at.button(key="adj_ne_record").click().run()
    assert not at.exception and not at.error
    [g] = _clinician_grades(engine, rid)
    assert (g.correct, g.rank, g.grader) == (True, 1, "lead")
    with session_scope(engine) as s:
        [row] = settled_no_error(s, w.study_id)
    assert row.follows and row.grade == "correct: clinician lead, listed #1"
    assert "the grade stands for 0" in next(e.label for e in at.expander if e.label.startswith("Settled"))
