"""grade-check against a reference, imported labels as references, stale grades on a gold change,
list-valued subgroups (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from db.models import TASK_DIFFERENTIAL, Annotator, Case, CaseSet, Grade, Response, Run
from pipeline.accuracy import (
    effective_grade_states,
    effective_grades,
    grade_check,
    grade_check_markdown,
    grade_study,
    pending_grades,
    record_clinician_grade,
    report_grade_check,
    stale_grades,
    study_accuracy,
)
from pipeline.cases import import_cases
from pipeline.cases._schema import CaseRecord
from pipeline.errors import DxTraceError
from tests.factories import add_model, make_study

# (case_key, gold, listed diagnoses, the reference label, a list attribute)
CASES = [
    ("c1", "Acute appendicitis", ["Acute appendicitis", "Gastroenteritis"], True, ["Digestive", "Surgery"]),
    ("c2", "Migraine with aura", ["Classical migraine"], True, ["Neurology"]),
    ("c3", "Pulmonary embolism", ["Pneumonia", "Asthma"], False, []),
    ("c4", "Chronic pancreatitis", ["Acute pancreatitis"], True, ["Digestive"]),  # reference disagrees
]


def _mapping():
    from pipeline.cases import CaseMapping

    return CaseMapping(name="mini")


def build(session: Session, *, imported: bool = True):
    records = [
        CaseRecord(key, f"vignette {key}", gold, attributes={"systems": systems}, task=TASK_DIFFERENTIAL, line=i + 1)
        for i, (key, gold, _, _, systems) in enumerate(CASES)
    ]
    import_cases(session, records, name="mini", mapping=_mapping(), source="mini.jsonl")
    case_set = session.exec(select(CaseSet).where(CaseSet.name == "mini")).one()
    cases = {c.case_key: c for c in session.exec(select(Case).where(Case.case_set_id == case_set.id))}
    study = make_study(session, "check")
    model = add_model(session, study, "m1")
    run = Run(study_id=study.id, model_id=model.id, case_set_id=case_set.id, source="imported", status="complete")
    session.add(run)
    session.flush()
    for key, _gold, listed, label, _ in CASES:
        resp = Response(run_id=run.id, case_id=cases[key].id, model_id=model.id, answer="\n".join(listed),
                        diagnoses=listed)  # fmt: skip
        session.add(resp)
        session.flush()
        if imported:
            session.add(Grade(response_id=resp.id, correct=label, method="imported", grader="bench-judge"))
    session.flush()
    return study, records


def test_grade_check_numbers_and_imported_labels_do_not_block(engine):
    with Session(engine) as session:
        study, _ = build(session)
        before = effective_grades(session, study.id)
        # An imported label is a reference, never a grade: before DxTrace grades, nothing counts.
        assert before["correct"].isna().all() and before["grader"].isna().all()
        summary = grade_study(session, study.id, embeddings=False, judge=False)
        assert summary.graded == 4 and summary.skipped == 0  # imported labels no longer block grading
        again = grade_study(session, study.id, embeddings=False, regrade=True, judge=False)
        assert again.graded == 4
        session.commit()
        frame = effective_grades(session, study.id)
        assert set(frame["grader"]) == {"dxtrace-grader/2"}  # our grade counts, the label stays a reference
        assert len(session.exec(select(Grade).where(Grade.method == "imported")).all()) == 4

        check = grade_check(session, study.id, "bench-judge")
        assert check.n == 4 and len(check.graded) == 4 and check.pending_share == 0
        conf = check.confusion()
        assert conf.loc["correct", "correct"] == 2 and conf.loc["incorrect", "incorrect"] == 1
        assert conf.loc["incorrect", "correct"] == 1  # c4: the reference accepts acute for chronic; we do not
        assert check.agreement == pytest.approx(0.75)
        k = check.kappa()
        # 2x2 [[2,0],[1,1]]: po = 0.75, pe = 0.75*0.5 + 0.25*0.5 = 0.5, kappa = 0.5
        assert k.kappa == pytest.approx(0.5) and k.low < 0.5 < k.high
        tiers = check.breakdown("tier").set_index("tier")
        assert tiers.loc["terminology", "agreement"] == 1.0 and tiers.loc["none", "graded"] == 2
        assert check.breakdown("model").iloc[0]["n"] == 4
        assert "agreement 75.0%" in grade_check_markdown(check)
        assert grade_check(session, study.id, "imported").n == 4  # any imported label
        shown = report_grade_check(session, study.id)  # what the report's accuracy section can call
        assert shown is not None and shown.reference == "bench-judge" and shown.agreement == 0.75


def test_grade_check_on_extra_field_with_threshold(engine):
    with Session(engine) as session:
        study, _ = build(session, imported=False)
        for resp, score in zip(session.exec(select(Response).order_by(Response.id)), (5, 4.5, 2, 3), strict=True):
            resp.extra = {"likert": score}
            session.add(resp)
        grade_study(session, study.id, embeddings=False, judge=False)
        check = grade_check(session, study.id, "extra.likert", threshold=4)
        assert check.n == 4 and check.agreement == 1.0
        assert report_grade_check(session, study.id) is None  # no imported or clinician reference


def test_unknown_reference_is_one_clear_error(engine):
    with Session(engine) as session:
        study, _ = build(session)
        with pytest.raises(DxTraceError, match="no reference 'nope'.*known: bench-judge"):
            grade_check(session, study.id, "nope")


def test_gold_change_makes_grades_stale_and_flags_clinician_grades(engine):
    with Session(engine) as session:
        study, records = build(session, imported=False)
        grade_study(session, study.id, embeddings=False, judge=False)
        dr = Annotator(username="dr_a", password_hash="x", role="lead")
        session.add(dr)
        session.flush()
        c3 = session.exec(select(Response).join(Case).where(Case.case_key == "c3")).one()
        record_clinician_grade(session, response_id=c3.id, annotator_id=dr.id, rank=None)
        session.commit()

        changed = [r if r.case_key not in ("c1", "c3") else
                   CaseRecord(r.case_key, r.vignette, "Gastroenteritis" if r.case_key == "c1" else "Pneumonia",
                              attributes=r.attributes, line=r.line)
                   for r in records]  # fmt: skip
        import_cases(session, changed, name="mini", mapping=_mapping(), source="mini.jsonl", update=True)
        session.commit()
        stale = stale_grades(session, ["c1", "c3"], "mini")
        assert (stale.automatic, stale.clinician) == (2, 1) and "need review" in stale.message()
        frame = effective_grades(session, study.id).set_index("case_key")
        assert frame.loc["c1", "status"] == "stale" and pd_isna(frame.loc["c1", "correct"])
        assert _states_agree(session, study.id) == 4  # the export's light read says the same
        assert frame.loc["c3", "status"] == "stale"  # the clinician grade is not silently reused

        summary = grade_study(session, study.id, embeddings=False, judge=False)
        session.commit()
        assert summary.stale == 2 and summary.review == 1 and summary.graded == 2
        frame = effective_grades(session, study.id).set_index("case_key")
        assert frame.loc["c1", "correct"] == True  # noqa: E712 - re-graded against the new gold (rank 2)
        assert frame.loc["c3", "status"] == "pending" and frame.loc["c3", "method"] == "review"
        assert _states_agree(session, study.id) == 4
        review = [p for p in pending_grades(session, study.id) if p.case_key == "c3"]
        assert len(review) == 1 and "gold changed from 'Pulmonary embolism' to 'Pneumonia'" in review[0].reason
        # A new clinician grade on the new gold settles it.
        record_clinician_grade(session, response_id=c3.id, annotator_id=dr.id, rank=1)
        session.commit()
        frame = effective_grades(session, study.id).set_index("case_key")
        assert frame.loc["c3", "status"] == "clinician" and frame.loc["c3", "correct"] == True  # noqa: E712
        assert _states_agree(session, study.id) == 4
        assert stale_grades(session, ["c3"], "mini").clinician == 1  # the old one stays, as history
        assert grade_study(session, study.id, embeddings=False, judge=False).graded == 0


def _states_agree(session, study_id) -> int:
    """effective_grade_states gives each graded response what effective_grades says; returns how many."""
    frame = effective_grades(session, study_id)
    states = effective_grade_states(session, study_id)
    for row in frame.itertuples():
        if pd_isna(row.method):
            assert row.response_id not in states
            continue
        got = states[row.response_id]
        assert (got["method"], got["status"]) == (row.method, row.status)
        assert got["correct"] == (None if pd_isna(row.correct) else bool(row.correct))
        assert got["rank"] == (None if pd_isna(row.rank) else int(row.rank))
    return len(states)


def pd_isna(v) -> bool:
    import pandas as pd

    return bool(pd.isna(v))


def test_list_valued_attribute_is_a_subgroup(engine):
    with Session(engine) as session:
        study, _ = build(session, imported=False)
        grade_study(session, study.id, embeddings=False, judge=False)
        report = study_accuracy(session, study.id, subgroups=["systems"], pairs=[])
        rows = {(r.level, r.model): r for r in report.models if r.subgroup == "systems"}
        assert set(lv for lv, _ in rows) == {"Digestive", "Surgery", "Neurology", "(unspecified)"}
        assert rows[("Digestive", "m1")].accuracy.n == 2  # c1 and c4: levels overlap
        assert rows[("Digestive", "m1")].accuracy.successes == 1
        assert rows[("(unspecified)", "m1")].accuracy.n == 1  # c3 lists none
