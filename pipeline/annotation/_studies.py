"""Which studies a person works in, and a study's blinding and suggestion settings."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from db.models import ROLE_LEAD, Annotator, Assignment, Response, Run, Study
from pipeline.annotation._codebook import ensure_codebook
from pipeline.studies import get_study


def studies_for(session: Session, person: Annotator) -> list[Study]:
    """The studies a person can open, newest first: a lead all of them, an annotator only those with items
    assigned to them (an annotator never sees another study's cases, traces or grades)."""
    studies = list(session.exec(select(Study).order_by(col(Study.created_at).desc(), col(Study.id).desc())))
    if person.role == ROLE_LEAD:
        return studies
    assigned = set(session.exec(select(Assignment.study_id).where(Assignment.annotator_id == person.id).distinct()))
    return [s for s in studies if s.id in assigned]


def study_response_ids(session: Session, study_id: int, response_ids: list[int]) -> set[int]:
    """Those of the ids that are responses of this study."""
    found: set[int] = set()
    ids = sorted(set(response_ids))
    for i in range(0, len(ids), 500):  # bounded IN lists for PostgreSQL and SQLite alike
        chunk = ids[i : i + 500]
        rows = session.exec(
            select(Response.id)
            .join(Run, Run.id == Response.run_id)
            .where(Run.study_id == study_id, col(Response.id).in_(chunk))
        )
        found.update(rows)
    return found


def count_responses(session: Session, study_id: int) -> int:
    return session.exec(
        select(func.count(Response.id)).join(Run, Run.id == Response.run_id).where(Run.study_id == study_id)
    ).one()


def update_study_settings(
    session: Session,
    study_id: int,
    *,
    blind_models: bool | None = None,
    blind_annotators: bool | None = None,
    show_suggestions: bool | None = None,
    codebook_version: str | None = None,
) -> Study:
    """Change a study's blinding, suggestion and codebook settings (a lead's decision)."""
    study = get_study(session, study_id)
    if blind_models is not None:
        study.blind_models = blind_models
    if blind_annotators is not None:
        study.blind_annotators = blind_annotators
    if show_suggestions is not None:
        study.show_suggestions = show_suggestions
    if codebook_version is not None:
        from pipeline.annotation._codebook_edit import check_switch

        check_switch(session, study.id, codebook_version)  # never to a version lacking modes its labels use
        study.codebook_version_id = ensure_codebook(session, codebook_version).id
    session.add(study)
    session.flush()
    return study


def responses_with_trace(session: Session, study_id: int) -> list[int]:
    """The study's responses that have a reasoning trace to label."""
    return list(
        session.exec(
            select(Response.id)
            .join(Run, Run.id == Response.run_id)
            .where(Run.study_id == study_id, col(Response.trace).is_not(None), Response.trace != "")
            .order_by(Response.id)
        )
    )
