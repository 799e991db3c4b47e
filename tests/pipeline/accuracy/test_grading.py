"""Grading the shipped real Sandmann answers into the database (SQLite and PostgreSQL), clinician grades, the study table."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from db.models import Annotator, Grade, Response
from pipeline.accuracy import (
    effective_grades,
    grade_study,
    incorrect_response_ids,
    pending_grades,
    record_clinician_grade,
    study_accuracy,
)
from pipeline.errors import DxTraceError
from tests.factories import add_model, add_sandmann_outputs, make_study

PAIR = ("DeepSeek-R1", "DeepSeek-V3")


def _clinician(session: Session, name: str = "dr_a", active: bool = True) -> Annotator:
    a = Annotator(username=name, password_hash="not-a-login", active=active, role="lead")  # leads may grade
    session.add(a)
    session.flush()
    return a


def test_grade_real_answers_and_settle_pending(engine):
    with Session(engine) as session:
        study = make_study(session)
        responses = add_sandmann_outputs(session, study, models=list(PAIR))
        assert len(responses) == 250
        summary = grade_study(session, study.id)
        session.commit()
        assert summary.graded == 250
        assert summary.correct + summary.incorrect + summary.pending == 250
        assert summary.correct > 150 and summary.pending > 0  # most are found; a few wait for a clinician

        frame = effective_grades(session, study.id)
        assert len(frame) == 250
        assert set(frame["status"]) <= {"auto", "pending"}
        assert {"case_key", "specialty", "incidence", "cohort", "model", "rank"} <= set(frame.columns)
        auto_correct = frame[frame["correct"].eq(True).fillna(False)]
        assert auto_correct["rank"].between(1, 5).all()

        # Grading again writes nothing new; --regrade replaces only our own grades.
        again = grade_study(session, study.id)
        assert again.graded == 0 and again.skipped == 250
        n_grades = len(session.exec(select(Grade)).all())
        assert grade_study(session, study.id, regrade=True, embeddings=False).graded == 250
        session.commit()
        assert len(session.exec(select(Grade)).all()) == n_grades
        grade_study(session, study.id, regrade=True)
        session.commit()

        pending = pending_grades(session, study.id)
        assert len(pending) == int((effective_grades(session, study.id)["status"] == "pending").sum())
        first = pending[0]
        assert first.gold_diagnosis and first.diagnoses and first.candidates
        clinician = _clinician(session)
        rank = first.candidates[0]["rank"]
        g = record_clinician_grade(session, response_id=first.response_id, annotator_id=clinician.id, rank=rank)
        second = pending[1]
        record_clinician_grade(session, response_id=second.response_id, annotator_id=clinician.id, rank=None)
        session.commit()
        assert g.status == "clinician" and g.correct is True and g.grader == "dr_a"
        assert g.matched_diagnosis == first.diagnoses[rank - 1]

        frame = effective_grades(session, study.id).set_index("response_id")
        assert frame.loc[first.response_id, "status"] == "clinician"
        assert bool(frame.loc[first.response_id, "correct"]) is True
        assert len(pending_grades(session, study.id)) == len(pending) - 2
        # The clinician's grade wins even over a later automatic regrade.
        grade_study(session, study.id, regrade=True, embeddings=False)
        session.commit()
        frame = effective_grades(session, study.id).set_index("response_id")
        assert frame.loc[first.response_id, "status"] == "clinician"

        wrong = incorrect_response_ids(session, study.id)
        assert second.response_id in wrong
        assert set(wrong) == set(frame.index[frame["correct"].eq(False).fillna(False)])


def test_clinician_grade_refuses_bad_input(sqlite_engine):
    with Session(sqlite_engine) as session:
        study = make_study(session)
        add_sandmann_outputs(session, study, models=["GPT-4o"])
        grade_study(session, study.id, embeddings=False)
        resp = session.exec(select(Response)).first()
        doc = _clinician(session)
        with pytest.raises(DxTraceError, match="rank must be"):
            record_clinician_grade(session, response_id=resp.id, annotator_id=doc.id, rank=9)
        with pytest.raises(DxTraceError, match="no response"):
            record_clinician_grade(session, response_id=10**6, annotator_id=doc.id, rank=1)
        gone = _clinician(session, "gone", active=False)
        with pytest.raises(DxTraceError, match="no active annotator"):
            record_clinician_grade(session, response_id=resp.id, annotator_id=gone.id, rank=1)
        with pytest.raises(DxTraceError, match="no study"):
            grade_study(session, 999)


def test_study_accuracy_on_the_real_pair(sqlite_engine):
    with Session(sqlite_engine) as session:
        study = make_study(session)
        add_sandmann_outputs(session, study, models=list(PAIR))
        grade_study(session, study.id)
        session.commit()
        report = study_accuracy(session, study.id, pairs=[PAIR])
        assert report.alpha == 0.01 and report.conf_level == pytest.approx(0.99)
        overall = report.pairs[0]
        assert (overall.subgroup, overall.model_a, overall.model_b) == ("overall", *PAIR)
        frame = effective_grades(session, study.id)
        wide = frame.pivot(index="case_key", columns="model", values="correct").dropna()
        r1, v3 = wide[PAIR[0]].astype(bool), wide[PAIR[1]].astype(bool)
        assert overall.n == len(wide)
        assert overall.counts.b == int((r1 & ~v3).sum()) and overall.counts.c == int((~r1 & v3).sum())
        levels = [r.level for r in report.pairs if r.subgroup == "incidence"]
        assert levels == ["Frequent", "Less Frequent", "Rare"]
        md = report.to_markdown()
        assert "DeepSeek-R1 vs DeepSeek-V3" in md and "| Overall |" in md
        # Without configured pairs the study has none; a paired model in the study is picked up.
        assert study_accuracy(session, study.id).pairs == ()
        with pytest.raises(DxTraceError, match="group by"):
            study_accuracy(session, study.id, subgroups=["no_such_attribute"])


def test_configured_pairs_and_ungraded_note(sqlite_engine):
    with Session(sqlite_engine) as session:
        study = make_study(session)
        base = add_model(session, study, "DeepSeek-V3")
        add_model(session, study, "DeepSeek-R1", is_reasoning=True, paired_with=base)
        add_sandmann_outputs(session, study, models=list(PAIR))
        with pytest.raises(DxTraceError, match="graded"):
            study_accuracy(session, study.id)
        grade_study(session, study.id, embeddings=False, models=["DeepSeek-R1"])
        grade_study(session, study.id, embeddings=False, models=["DeepSeek-V3"])
        report = study_accuracy(session, study.id, subgroups=())
        assert [(p.model_a, p.model_b) for p in report.pairs] == [PAIR]
