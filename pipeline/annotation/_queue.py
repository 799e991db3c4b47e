"""An annotator's queue and progress, and one item as the annotation view shows it (blinded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlmodel import Session, col, func, select

from db.models import Annotation, Annotator, Assignment, Case, Model, Response, Study
from pipeline.annotation._labels import (
    STATUS_DONE,
    STATUS_FLAGGED,
    STATUS_PENDING,
    STATUS_SKIPPED,
    assignment_of,
    response_of_study,
)
from pipeline.annotation._steps import split_steps


@dataclass(frozen=True)
class QueueItem:
    position: int  # 1-based place in the annotator's own order
    response_id: int
    status: str


@dataclass(frozen=True)
class Progress:
    assigned: int
    done: int  # labelled, including flagged items
    flagged: int
    skipped: int

    @property
    def pending(self) -> int:
        return self.assigned - self.done - self.skipped

    @property
    def fraction(self) -> float:
        return self.done / self.assigned if self.assigned else 0.0

    def label(self) -> str:
        extra = []
        if self.flagged:
            extra.append(f"{self.flagged} flagged")
        if self.skipped:
            extra.append(f"{self.skipped} skipped")
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"{self.done} of {self.assigned} done{tail}"


def annotator_queue(session: Session, study_id: int, annotator_id: int) -> list[QueueItem]:
    rows = session.exec(
        select(Assignment.response_id, Assignment.status)
        .where(Assignment.study_id == study_id, Assignment.annotator_id == annotator_id)
        .order_by(Assignment.position, Assignment.id)
    ).all()
    return [QueueItem(i, rid, status) for i, (rid, status) in enumerate(rows, 1)]


def progress(session: Session, study_id: int, annotator_id: int) -> Progress:
    counts = dict(
        session.exec(
            select(Assignment.status, func.count(Assignment.id))
            .where(Assignment.study_id == study_id, Assignment.annotator_id == annotator_id)
            .group_by(Assignment.status)
        ).all()
    )
    flagged = counts.get(STATUS_FLAGGED, 0)
    return Progress(
        assigned=sum(counts.values()),
        done=counts.get(STATUS_DONE, 0) + flagged,
        flagged=flagged,
        skipped=counts.get(STATUS_SKIPPED, 0),
    )


def next_response_id(session: Session, study_id: int, annotator_id: int, *, after: int | None = None) -> int | None:
    """The next item to label: the first pending one after `after` in queue order (wrapping round),
    then the skipped ones; None when everything is labelled. Indexed look-ups, not the whole queue."""
    mine = select(Assignment.response_id).where(
        Assignment.study_id == study_id, Assignment.annotator_id == annotator_id
    )
    position = None
    if after is not None:
        position = session.exec(
            select(Assignment.position).where(
                Assignment.study_id == study_id,
                Assignment.annotator_id == annotator_id,
                Assignment.response_id == after,
            )
        ).first()
        mine = mine.where(Assignment.response_id != after)
    for wanted in (STATUS_PENDING, STATUS_SKIPPED):
        query = mine.where(Assignment.status == wanted).order_by(Assignment.position, Assignment.id).limit(1)
        if position is not None:
            found = session.exec(query.where(Assignment.position > position)).first()
            if found is not None:
                return found
        found = session.exec(query).first()
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class OtherLabels:
    """Another annotator's labels, shown only when the study does not blind annotators."""

    username: str
    error_modes: list[str]
    first_error_step: int | None
    severity: str | None
    rationale: str | None


@dataclass(frozen=True)
class Item:
    """One response as the annotation view shows it. model_name is None when models are blinded."""

    study_id: int
    response_id: int
    position: int
    status: str
    case_key: str
    specialty: str | None
    incidence: str | None
    vignette: str
    gold_diagnosis: str
    task: str
    options: list[str] | None
    answer: str
    diagnoses: list[str]
    chosen_option: str | None
    steps: list[str]
    model_name: str | None
    annotation: Annotation | None
    others: list[OtherLabels] = field(default_factory=list)

    @property
    def n_steps(self) -> int:
        return len(self.steps)


def load_item(session: Session, study_id: int, response_id: int, annotator_id: int) -> Item:
    """The item for this annotator, blinded as the study says (model name, other annotators' labels)."""
    study = session.get(Study, study_id)
    response = response_of_study(session, study_id, response_id)
    assignment = assignment_of(session, study_id, response_id, annotator_id)
    case = session.get(Case, response.case_id)
    position = session.exec(
        select(func.count(Assignment.id)).where(
            Assignment.study_id == study_id,
            Assignment.annotator_id == annotator_id,
            Assignment.position <= assignment.position,
        )
    ).one()
    own = session.exec(
        select(Annotation).where(
            Annotation.study_id == study_id,
            Annotation.response_id == response_id,
            Annotation.annotator_id == annotator_id,
        )
    ).first()
    others: list[OtherLabels] = []
    if not study.blind_annotators:
        rows = session.exec(
            select(Annotation, Annotator.username)
            .join(Annotator, Annotator.id == Annotation.annotator_id)
            .where(
                Annotation.study_id == study_id,
                Annotation.response_id == response_id,
                Annotation.annotator_id != annotator_id,
            )
            .order_by(Annotator.username)
        ).all()
        others = [
            OtherLabels(name, list(a.error_modes or []), a.first_error_step, a.severity, a.rationale)
            for a, name in rows
        ]
    model_name = None
    if not study.blind_models:
        model = session.get(Model, response.model_id)
        model_name = model.name if model else None
    return Item(
        study_id=study_id,
        response_id=response_id,
        position=position,
        status=assignment.status,
        case_key=case.case_key,
        specialty=case.specialty,
        incidence=case.incidence,
        vignette=case.vignette,
        gold_diagnosis=case.gold_diagnosis,
        task=case.task,
        options=list(case.options) if case.options else None,
        answer=response.answer or "",
        diagnoses=[str(d) for d in (response.diagnoses or [])],
        chosen_option=response.chosen_option,
        steps=split_steps(response.trace),
        model_name=model_name,
        annotation=own,
        others=others,
    )


def study_progress(session: Session, study_id: int) -> pd.DataFrame:
    """Progress per annotator in a study: assigned, done, flagged, skipped, pending, last activity."""
    rows = session.exec(
        select(
            Annotator.username,
            Annotator.role,
            Annotator.active,
            Assignment.status,
            func.count(Assignment.id),
            func.max(Assignment.updated_at),
        )
        .join(Annotator, Annotator.id == Assignment.annotator_id)
        .where(Assignment.study_id == study_id)
        .group_by(Annotator.username, Annotator.role, Annotator.active, Assignment.status)
    ).all()
    table: dict[str, dict] = {}
    for username, role, active, status, n, last in rows:
        row = table.setdefault(
            username,
            {
                "annotator": username,
                "role": role,
                "active": active,
                "assigned": 0,
                "done": 0,
                "flagged": 0,
                "skipped": 0,
                "pending": 0,
                "last_activity": None,
            },
        )
        row["assigned"] += n
        if status in (STATUS_DONE, STATUS_FLAGGED):
            row["done"] += n
        if status in row and status != STATUS_DONE:
            row[status] += n
        if status != STATUS_PENDING and last is not None:
            last_activity: datetime | None = row["last_activity"]
            row["last_activity"] = last if last_activity is None or last > last_activity else last_activity
    columns = ["annotator", "role", "active", "assigned", "done", "flagged", "skipped", "pending", "last_activity"]
    frame = pd.DataFrame(sorted(table.values(), key=lambda r: r["annotator"]), columns=columns)
    if not frame.empty:
        frame["percent_done"] = (100 * frame["done"] / frame["assigned"]).round(1)
    else:
        frame["percent_done"] = []
    return frame


def annotated_items(session: Session, study_id: int) -> int:
    """How many responses have at least one annotation."""
    return session.exec(
        select(func.count(func.distinct(Annotation.response_id))).where(Annotation.study_id == study_id)
    ).one()


def assigned_response_ids(session: Session, study_id: int) -> set[int]:
    return set(session.exec(select(Assignment.response_id).where(Assignment.study_id == study_id).distinct()))


def responses_by_model(session: Session, study_id: int, response_ids: list[int] | set[int]) -> pd.DataFrame:
    """How many of these responses each model wrote (for the lead's overview; never shown to annotators)."""
    ids = sorted(set(response_ids))
    counts: dict[str, int] = {}
    for i in range(0, len(ids), 500):
        rows = session.exec(
            select(Model.name, func.count(Response.id))
            .join(Model, Model.id == Response.model_id)
            .where(col(Response.id).in_(ids[i : i + 500]))
            .group_by(Model.name)
        ).all()
        for name, n in rows:
            counts[name] = counts.get(name, 0) + n
    return pd.DataFrame(sorted(counts.items()), columns=["model", "responses"])
