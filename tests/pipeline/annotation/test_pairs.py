"""A pair side by side: the reasoning model and its base model on one case."""

from __future__ import annotations

from sqlmodel import select

from db.engine import session_scope
from db.models import Case, Grade, Response
from pipeline.annotation import (
    AnnotationInput,
    assign,
    create_annotator,
    model_pairs,
    pair_cases,
    pair_side,
    save_annotation,
)
from tests.factories import _run, add_model, make_study, shipped_case_set

PASSWORD = "correct horse battery"


def build_pair(engine) -> dict:
    """Three cases; the reasoning model (with traces) wrong on the first, the base model right on it."""
    with session_scope(engine) as s:
        study = make_study(s, "pair-study")
        cs = shipped_case_set(s, "medrbench")
        cases = s.exec(select(Case).where(Case.case_set_id == cs.id).order_by(Case.id).limit(3)).all()
        base = add_model(s, study, "Base-8B")
        reasoning = add_model(s, study, "Reasoner-8B", is_reasoning=True, paired_with=base)
        ids: dict[tuple[str, int], int] = {}
        for model, trace in ((reasoning, "First I consider sepsis.\n\nThen I weigh anaemia."), (base, None)):
            run = _run(s, study, model, cs)
            for i, case in enumerate(cases):
                r = Response(
                    run_id=run.id, case_id=case.id, model_id=model.id, trace=trace,
                    answer=f"1. {'Anaemia' if model is reasoning and i == 0 else case.gold_diagnosis}",
                    diagnoses=["Anaemia" if model is reasoning and i == 0 else case.gold_diagnosis],
                )  # fmt: skip
                s.add(r)
                s.flush()
                wrong = model is reasoning and i == 0
                s.add(Grade(response_id=r.id, correct=not wrong, method="exact", status="auto", grader="t"))
                ids[(model.name, i)] = r.id
        ann = create_annotator(s, "ann1", PASSWORD, "annotator").id
        create_annotator(s, "lead", PASSWORD, "lead")
        rid = ids[("Reasoner-8B", 0)]
        assign(s, study.id, response_ids=[rid], annotator_ids=[ann], per_item=1)
        save_annotation(
            s, study_id=study.id, response_id=rid, annotator_id=ann,
            labels=AnnotationInput(error_modes=["reasoning_drift"], evidence={"reasoning_drift": [2]}),
        )  # fmt: skip
        return {"study_id": study.id, "ids": ids, "cases": [c.id for c in cases], "keys": [c.case_key for c in cases]}


def test_pairs_cases_and_sides(sqlite_engine):
    p = build_pair(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        [pair] = model_pairs(s, p["study_id"])
        assert pair.label == "Reasoner-8B vs Base-8B"
        cases = pair_cases(s, p["study_id"], pair)
        assert [c.case_id for c in cases][0] == p["cases"][0] and cases[0].discordant  # discordant first
        assert (cases[0].reasoning_correct, cases[0].base_correct) == (False, True)
        assert not any(c.discordant for c in cases[1:])
        [left] = pair_side(s, p["study_id"], pair.reasoning.id, p["cases"][0])
        [right] = pair_side(s, p["study_id"], pair.base.id, p["cases"][0])
    assert left.steps == ["First I consider sepsis.", "Then I weigh anaemia."] and left.correct is False
    assert left.labels == [("ann1", ["reasoning_drift"])]
    assert right.steps == [] and right.correct is True and right.labels == []
