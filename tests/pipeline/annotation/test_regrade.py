"""Why an item was graded wrong (from the stored grade), and a clinician's "actually correct"."""

from __future__ import annotations

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Assignment, Grade
from pipeline.accuracy import incorrect_response_ids
from pipeline.annotation import AnnotationInput, assign, mark_answer_correct, save_annotation, why_wrong
from pipeline.errors import DxTraceError
from tests.pipeline.annotation.conftest import build_world


def add_auto_grade(engine, rid: int) -> None:
    """An automatic grade that missed: the grader kept its per-diagnosis matches."""
    matches = [
        {"rank": 1, "diagnosis": "Stable angina", "gold_name": "coronary artery disease", "method": "embedding",
         "score": 0.71, "confident": False, "conflict": False},
        {"rank": 2, "diagnosis": "GERD", "gold_name": "coronary artery disease", "method": "fuzzy",
         "score": 0.2, "confident": False, "conflict": False},
    ]  # fmt: skip
    with session_scope(engine) as s:
        s.add(
            Grade(
                response_id=rid,
                correct=False,
                k=5,
                method="none",
                status="auto",
                grader="dxtrace-grader-test",
                details={"diagnoses": ["Stable angina", "GERD"], "matches": matches, "candidates": []},
            )
        )


def test_why_wrong_reads_the_stored_grade(engine):
    w = build_world(engine, n_annotators=1)
    imported, auto = w.incorrect[0], w.incorrect[1]
    add_auto_grade(engine, auto)
    with session_scope(engine) as s:
        why = why_wrong(s, auto)
        assert (why.closest, why.closest_rank, why.closest_score) == ("Stable angina", 1, 0.71)
        text = "\n".join(why.lines())
        assert "dxtrace-grader-test (no listed diagnosis came close)" in text
        assert "#1 'Stable angina' vs 'coronary artery disease' by embedding, score 0.71" in text
        plain = why_wrong(s, imported)
        assert plain.method == "judge" and plain.closest is None
        assert "records no closest candidate" in "\n".join(plain.lines())


def test_actually_correct_records_a_clinician_grade_and_leaves_the_queue(engine):
    w = build_world(engine, n_annotators=3)
    rid = w.incorrect[1]
    add_auto_grade(engine, rid)
    ann = [w.people["ann1"], w.people["ann2"], w.people["ann3"]]
    with session_scope(engine) as s:
        assign(s, w.study_id, response_ids=[rid, w.incorrect[2]], annotator_ids=ann, per_item=3)
        save_annotation(
            s,
            study_id=w.study_id,
            response_id=rid,
            annotator_id=w.people["ann2"],
            labels=AnnotationInput(error_modes=["reasoning_drift"]),
        )
    with session_scope(engine) as s, pytest.raises(DxTraceError):  # only for an item given to this person
        mark_answer_correct(s, study_id=w.study_id, response_id=w.incorrect[5], annotator_id=ann[0], rank=1)
    with session_scope(engine) as s, pytest.raises(DxTraceError, match="rank must be a number from 1 to 2"):
        mark_answer_correct(s, study_id=w.study_id, response_id=rid, annotator_id=ann[0], rank=3)
    with session_scope(engine) as s:
        done = mark_answer_correct(
            s, study_id=w.study_id, response_id=rid, annotator_id=ann[0], rank=1, note="angina is CAD"
        )
        assert done.withdrawn_from == ["ann1", "ann3"]
    with session_scope(engine) as s:
        g = s.get(Grade, done.grade_id)
        assert (g.correct, g.status, g.grader, g.matched_diagnosis) == (True, "clinician", "ann1", "Stable angina")
        assert g.details["note"] == "angina is CAD" and g.details["previous_grade_id"] is not None
        assert rid not in incorrect_response_ids(s, w.study_id)
        left = s.exec(select(Assignment.annotator_id).where(Assignment.response_id == rid)).all()
        assert left == [w.people["ann2"]]  # the labelled one stays
        assert why_wrong(s, rid).graded_by_clinician
