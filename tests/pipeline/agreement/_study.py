"""A simulated annotation study with planted agreement, on the shipped DeepSeek-R1 traces.

Three annotators label the incorrect MedR-Bench responses through the real annotation logic
(create_annotator, assign, save_annotation). Each response has a hidden truth; the annotators copy it
for reasoning drift with 2% noise (near-perfect agreement), for red-flag failure with 20% noise
(moderate), and label priority inversion at random, unrelated to the truth and to each other.
Nobody uses "other". Half of the responses get a third annotator, so ratings are missing by design.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, select

from db.models import Assignment, Response, Study
from pipeline.annotation import AnnotationInput, assign, create_annotator, save_annotation, split_steps, study_codebook
from tests.factories import add_medrbench_r1, make_study

PASSWORD = "planted-agreement-2024"
NOISE = {"reasoning_drift": 0.02, "red_flag_failure": 0.20}
PREVALENCE = {"reasoning_drift": 0.5, "red_flag_failure": 0.4, "priority_inversion": 0.3}


@dataclass(frozen=True)
class SimStudy:
    study_id: int
    annotator_ids: list[int]
    lead_id: int
    response_ids: list[int]
    truth: dict[int, set[str]]
    truth_step: dict[int, int | None]


def build_simulated_study(session: Session, *, seed: int = 2024, name: str = "agreement-sim") -> SimStudy:
    study = make_study(session, name)
    responses = add_medrbench_r1(session, study, incorrect_only=True)
    study_codebook(session, study)
    people = [create_annotator(session, f"clinician{i}", PASSWORD, "annotator") for i in (1, 2, 3)]
    lead = create_annotator(session, "studylead", PASSWORD, "lead")
    ids = [p.id for p in people]
    assign(
        session,
        study.id,
        response_ids=[r.id for r in responses],
        annotator_ids=ids,
        per_item=2,
        extra_share=0.5,
        extra_per_item=3,
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    truth: dict[int, set[str]] = {}
    truth_step: dict[int, int | None] = {}
    n_steps = {r.id: len(split_steps(r.trace)) for r in responses}
    for r in responses:
        truth[r.id] = {m for m, p in PREVALENCE.items() if rng.random() < p}
        truth_step[r.id] = int(rng.integers(1, n_steps[r.id] + 1)) if truth[r.id] and n_steps[r.id] else None
    assignments = session.exec(
        select(Assignment).where(Assignment.study_id == study.id).order_by(Assignment.response_id, Assignment.id)
    ).all()
    for a in assignments:
        t = truth[a.response_id]
        modes = []
        for mode, noise in NOISE.items():
            if (mode in t) != (rng.random() < noise):
                modes.append(mode)
        if rng.random() < PREVALENCE["priority_inversion"]:
            modes.append("priority_inversion")
        steps = n_steps[a.response_id]
        if not modes:
            labels = AnnotationInput(error_modes=["no_error"], confidence=4)
        else:
            step = truth_step[a.response_id] or (1 if steps else None)
            if step is not None and rng.random() < 0.1:  # an occasional different first error step
                step = min(steps, step + 1)
            labels = AnnotationInput(
                error_modes=modes,
                evidence={m: [step] for m in modes} if step else {},
                first_error_step=step,
                confidence=3,
                rationale="planted",
            )
        save_annotation(
            session, study_id=study.id, response_id=a.response_id, annotator_id=a.annotator_id, labels=labels
        )
    session.flush()
    return SimStudy(study.id, ids, lead.id, [r.id for r in responses], truth, truth_step)


def study_by_name(session: Session, name: str) -> Study:
    return session.exec(select(Study).where(Study.name == name)).one()


def response_trace(session: Session, response_id: int) -> str | None:
    return session.get(Response, response_id).trace
