"""A pair side by side: on one case, the reasoning model's and its base model's responses with
their answers, traces, grades and labels (the study's design is paired)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from db.models import Annotation, Annotator, Case, FinalLabel, Model, Response, Run
from pipeline.annotation._regrade import _effective_grade
from pipeline.annotation._steps import split_steps
from pipeline.errors import DxTraceError


@dataclass(frozen=True)
class ModelPair:
    reasoning: Model
    base: Model

    @property
    def label(self) -> str:
        return f"{self.reasoning.name} vs {self.base.name}"


@dataclass(frozen=True)
class PairCase:
    case_id: int
    case_key: str
    reasoning_correct: bool | None  # first repeat's grade that counts; None: pending or ungraded
    base_correct: bool | None

    @property
    def discordant(self) -> bool:
        return (
            self.reasoning_correct is not None
            and self.base_correct is not None
            and (self.reasoning_correct != self.base_correct)
        )


@dataclass(frozen=True)
class PairSide:
    """One model's response on the case."""

    response_id: int
    repeat: int
    answer: str
    diagnoses: list[str]
    steps: list[str]
    correct: bool | None
    grade_method: str | None
    labels: list[tuple[str, list[str]]]  # (annotator, error modes)
    final: list[str] | None  # settled error modes, if any
    final_method: str | None


def model_pairs(session: Session, study_id: int) -> list[ModelPair]:
    """Every reasoning model of the study with the base model it is paired with."""
    models = {m.id: m for m in session.exec(select(Model).where(Model.study_id == study_id))}
    return [
        ModelPair(m, models[m.paired_model_id])
        for m in sorted(models.values(), key=lambda m: m.name)
        if m.paired_model_id in models
    ]


def _responses(session: Session, study_id: int, model_id: int) -> dict[int, list[Response]]:
    rows = session.exec(
        select(Response)
        .join(Run, Run.id == Response.run_id)
        .where(Run.study_id == study_id, Response.model_id == model_id)
        .order_by(Response.case_id, Response.repeat)
    )
    out: dict[int, list[Response]] = {}
    for r in rows:
        out.setdefault(r.case_id, []).append(r)
    return out


def pair_cases(session: Session, study_id: int, pair: ModelPair) -> list[PairCase]:
    """Cases both models answered, discordant ones (one right, one wrong) first."""
    a = _responses(session, study_id, pair.reasoning.id)
    b = _responses(session, study_id, pair.base.id)
    shared = sorted(set(a) & set(b))
    keys = dict(session.exec(select(Case.id, Case.case_key).where(Case.id.in_(shared or [-1]))).all())

    def correct(rs: list[Response]) -> bool | None:
        g = _effective_grade(session, rs[0].id)
        return None if g is None else g.correct

    cases = [PairCase(c, keys[c], correct(a[c]), correct(b[c])) for c in shared]
    return sorted(cases, key=lambda p: (not p.discordant, p.case_key))


def pair_side(session: Session, study_id: int, model_id: int, case_id: int) -> list[PairSide]:
    """This model's responses (every repeat) on the case, each with its grade and labels."""
    rs = _responses(session, study_id, model_id).get(case_id)
    if not rs:
        raise DxTraceError(f"model {model_id} has no response on case {case_id} in this study")
    out = []
    for r in rs:
        g = _effective_grade(session, r.id)
        labels = session.exec(
            select(Annotator.username, Annotation.error_modes)
            .join(Annotator, Annotator.id == Annotation.annotator_id)
            .where(Annotation.study_id == study_id, Annotation.response_id == r.id)
            .order_by(Annotator.username)
        ).all()
        final = session.exec(
            select(FinalLabel).where(FinalLabel.study_id == study_id, FinalLabel.response_id == r.id)
        ).first()
        out.append(
            PairSide(
                response_id=r.id,
                repeat=r.repeat,
                answer=r.answer or "",
                diagnoses=[str(d) for d in (r.diagnoses or [])],
                steps=split_steps(r.trace),
                correct=None if g is None else g.correct,
                grade_method=None if g is None else g.method,
                labels=[(name, list(modes or [])) for name, modes in labels],
                final=list(final.error_modes) if final else None,
                final_method=final.method if final else None,
            )
        )
    return out
