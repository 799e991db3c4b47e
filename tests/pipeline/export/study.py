"""A labelled study built from the shipped real responses through the real annotation code.

Used by the export and report tests: real DeepSeek-R1 traces on MedR-Bench with their imported grades,
real Sandmann answers of a reasoning model and its base model, accounts, assignments, annotations with
evidence steps and an audit trail (pipeline.annotation), a clinician grade, and final labels reached
unanimously, by majority and by adjudication (pipeline.agreement), and some left open.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from db.models import Assignment, Grade, Model, Response, Run, Study
from pipeline.accuracy import grade_study
from pipeline.agreement import adjudicate, disagreements, settle_final_labels
from pipeline.annotation import (
    AnnotationInput,
    ItemClock,
    assign,
    create_annotator,
    ensure_codebook,
    save_annotation,
    split_steps,
)
from pipeline.generate import parse_diagnoses
from tests.factories import add_medrbench_r1, add_sandmann_outputs, make_study

PASSWORD = "correct horse battery"
ANNOTATORS = ("dr.amsel", "dr.birke", "dr.ceder")
LEAD = "lead.dorn"
MODES = ("reasoning_drift", "red_flag_failure", "priority_inversion")


def _labels(i: int, who: int, n_steps: int) -> AnnotationInput:
    """Deterministic labels: the annotators of a response agree on most and differ on some.

    who: the annotator's place among the response's annotators (0, 1, 2).
    """
    mode = MODES[i % 3]
    if who == 1 and i % 4 == 1:
        mode = MODES[(i + 1) % 3]  # one dissenter: a majority when three annotators label it
    if i % 4 == 3:
        mode = MODES[(i + who) % 3]  # everyone differs: the lead adjudicates
    modes = [mode]
    if i % 5 == 0:
        modes.append("other")
    step = 1 + (i + who) % max(1, n_steps)
    evidence = {mode: sorted({step, min(n_steps, step + 1)})}
    return AnnotationInput(
        error_modes=modes,
        evidence=evidence,
        first_error_step=step,
        severity=("minor", "moderate", "major", "critical")[i % 4],
        confidence=1 + (i + who) % 5,
        rationale=f"Step {step} <b>drops</b> the key finding & goes elsewhere.",
        other_description="dose arithmetic wrong" if "other" in modes else None,
    )


def build_labelled_study(session: Session, name: str = "labelled-study", *, n_r1: int = 60) -> Study:
    study = make_study(session, name, description="Export and report test study")
    study.codebook_version_id = ensure_codebook(session).id
    study.settings = {"k": 5, "template": "differential-v1"}
    r1 = add_medrbench_r1(session, study, limit=n_r1)
    answers = add_sandmann_outputs(session, study, models=["DeepSeek-R1", "DeepSeek-V3"])
    for resp in answers:  # as the response import does: the answer parsed into ranked diagnoses
        resp.diagnoses = parse_diagnoses(resp.answer)
    session.flush()
    grade_study(session, study.id, embeddings=False)
    models = {m.name: m for m in session.exec(select(Model).where(Model.study_id == study.id))}
    models["DeepSeek-R1"].paired_model_id = models["DeepSeek-V3"].id
    models["DeepSeek-R1"].params = {"temperature": 0.6, "top_p": 0.95}
    for run in session.exec(select(Run).where(Run.study_id == study.id)):
        run.template_name, run.template_version = "differential", "1"

    people = [create_annotator(session, u, PASSWORD, "annotator", display_name=u.title()) for u in ANNOTATORS]
    lead = create_annotator(session, LEAD, PASSWORD, "lead", display_name="Lead Dorn")
    incorrect = [r for r in r1 if not r.diagnoses]
    targets = incorrect[:10]
    assign(
        session,
        study.id,
        response_ids=[r.id for r in targets],
        annotator_ids=[p.id for p in people],
        per_item=2,
        extra_share=0.3,
        extra_per_item=3,
        seed=1,
    )
    by_response: dict[int, list[int]] = {}
    for a in session.exec(select(Assignment).where(Assignment.study_id == study.id)):
        by_response.setdefault(a.response_id, []).append(a.annotator_id)
    order = {p.id: n for n, p in enumerate(people)}
    for i, resp in enumerate(targets):
        n_steps = len(split_steps(resp.trace))
        for pos, aid in enumerate(sorted(by_response[resp.id], key=order.get)):
            labels = _labels(i, pos, n_steps)
            # Some with the time spent (issue 16), so the export is seen to carry it.
            opened = datetime(2026, 1, 5, 9, i % 60, tzinfo=UTC)
            clock = ItemClock.start(opened).tick(opened + timedelta(seconds=40 + i)) if i % 2 else None
            save_annotation(
                session, study_id=study.id, response_id=resp.id, annotator_id=aid, labels=labels, clock=clock
            )
        if i == 2:  # a change of mind, so the audit trail has an update
            aid = sorted(by_response[resp.id], key=order.get)[0]
            changed = _labels(i, 0, n_steps)
            changed = AnnotationInput(**{**changed.__dict__, "severity": "critical", "confidence": 5})
            save_annotation(session, study_id=study.id, response_id=resp.id, annotator_id=aid, labels=changed)

    # Wrong final answers of the pair on the Sandmann cases (no traces): labelled alike by two annotators,
    # so prevalence can be compared per pair, incidence and specialty.
    graded = {
        g.response_id: g for g in session.exec(select(Grade).where(Grade.response_id.in_([r.id for r in answers])))
    }
    wrong = {
        m: [r for r in answers if r.model_id == models[m].id and graded.get(r.id) and graded[r.id].correct is False]
        for m in models
    }
    extra = [r for m in ("DeepSeek-R1", "DeepSeek-V3") for r in wrong[m][:6]]
    assign(
        session, study.id, response_ids=[r.id for r in extra], annotator_ids=[people[0].id, people[1].id], per_item=2
    )
    for i, resp in enumerate(extra):
        modes = [MODES[(i + (resp.model_id == models["DeepSeek-V3"].id)) % 3]]
        for person in people[:2]:
            save_annotation(
                session,
                study_id=study.id,
                response_id=resp.id,
                annotator_id=person.id,
                labels=AnnotationInput(error_modes=modes, rationale="The answer misses the red flag."),
            )

    # Final labels through the agreement code: unanimous and majority settle themselves; the lead
    # adjudicates some disagreements and leaves the rest open.
    settle_final_labels(session, study.id)
    for n, item in enumerate(disagreements(session, study.id)):
        if n % 2 == 0:
            adjudicate(
                session,
                study_id=study.id,
                response_id=item.response_id,
                adjudicator_id=lead.id,
                error_modes=["red_flag_failure"],
                first_error_step=1,
                rationale="The case's red flag is named in step 1 and then dropped.",
            )
    # A clinician overruled the automatic grade of one response.
    session.add(
        Grade(
            response_id=targets[0].id,
            correct=False,
            rank=None,
            method="clinician",
            status="clinician",
            grader=ANNOTATORS[0],
            annotator_id=people[0].id,
        )
    )
    session.flush()
    return study


def response_count(session: Session, study_id: int) -> int:
    return len(
        session.exec(select(Response.id).join(Run, Response.run_id == Run.id).where(Run.study_id == study_id)).all()
    )
