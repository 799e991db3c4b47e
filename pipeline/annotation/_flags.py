"""Flags reach the lead: every item an annotator flagged for discussion, with the annotator's note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from db.models import Annotation, Annotator, Case, FinalLabel, Response


@dataclass(frozen=True)
class FlaggedItem:
    response_id: int
    case_key: str
    annotator: str
    note: str | None  # the annotator's rationale, or the description of an 'other' error
    error_modes: list[str]
    flagged_at: datetime
    final: str | None  # how the item is settled now ("adjudicated" once a lead decided), None if open

    @property
    def open(self) -> bool:
        return self.final != "adjudicated"


def flagged_items(session: Session, study_id: int) -> list[FlaggedItem]:
    """The study's flagged annotations, open ones first, newest first within each group."""
    rows = session.exec(
        select(Annotation, Annotator.username, Case.case_key)
        .join(Annotator, Annotator.id == Annotation.annotator_id)
        .join(Response, Response.id == Annotation.response_id)
        .join(Case, Case.id == Response.case_id)
        .where(Annotation.study_id == study_id, Annotation.flagged == True)  # noqa: E712
    ).all()
    finals = dict(
        session.exec(select(FinalLabel.response_id, FinalLabel.method).where(FinalLabel.study_id == study_id)).all()
    )
    items = [
        FlaggedItem(
            response_id=a.response_id,
            case_key=key,
            annotator=name,
            note=a.rationale or a.other_description,
            error_modes=list(a.error_modes or []),
            flagged_at=a.updated_at,
            final=finals.get(a.response_id),
        )
        for a, name, key in rows
    ]
    items.sort(key=lambda i: i.flagged_at, reverse=True)
    return sorted(items, key=lambda i: not i.open)  # stable: open first
