"""Finding a study by what a user typed: its name or its id."""

from __future__ import annotations

from sqlmodel import Session, select

from db.models import Study
from pipeline.errors import DxTraceError


def get_study(session: Session, ref: str | int) -> Study:
    """A study by id or name; the error lists the studies there are."""
    study = None
    if isinstance(ref, int) or str(ref).isdigit():
        study = session.get(Study, int(ref))
    if study is None:
        study = session.exec(select(Study).where(Study.name == str(ref))).first()
    if study is None:
        names = [s.name for s in session.exec(select(Study).order_by(Study.name))]
        known = ", ".join(names) if names else "none yet; create one with: python -m pipeline study"
        raise DxTraceError(f"no study {ref!r} (studies: {known})")
    return study


def resolve_study(session: Session, ref: str | int | None) -> Study:
    """The study named (or numbered) by --study; the only study when there is just one."""
    if ref is not None and ref != "":
        return get_study(session, ref)
    studies = list(session.exec(select(Study).order_by(Study.id)))
    if len(studies) == 1:
        return studies[0]
    names = ", ".join(s.name for s in studies) or "none yet"
    raise DxTraceError(f"--study: name the study (studies: {names})")
