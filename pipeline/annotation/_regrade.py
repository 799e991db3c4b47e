"""Why an item was graded wrong, and a clinician's "this answer is actually correct".

The explanation comes only from the stored Grade row (method, grader, the per-diagnosis
matches and uncertain candidates the grader kept in `details`); nothing is re-graded here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from db.models import Annotation, Annotator, Assignment, Grade, Response
from pipeline.annotation._labels import assignment_of, response_of_study
from pipeline.errors import DxTraceError

METHOD_WORDS = {
    "exact": "exact name match",
    "synonym": "match with a listed synonym",
    "fuzzy": "fuzzy string similarity",
    "embedding": "embedding similarity of the names",
    "option": "the chosen option",
    "clinician": "a clinician's grade",
    "imported": "a grade imported with the responses",
    "none": "no listed diagnosis came close",
}


@dataclass(frozen=True)
class WhyWrong:
    """What the stored grade says about an incorrect response."""

    correct: bool | None
    method: str
    grader: str
    status: str
    k: int
    closest: str | None  # the listed diagnosis nearest the gold, as the response lists it
    closest_rank: int | None
    closest_score: float | None
    closest_method: str | None
    gold_name: str | None  # the gold name or synonym it was compared with
    graded_by_clinician: bool

    def lines(self) -> list[str]:
        """Plain sentences for the item page (data text is shown by the caller as plain text)."""
        how = METHOD_WORDS.get(self.method, self.method)
        out = [f"Graded {'wrong' if self.correct is False else self.status} by {self.grader} ({how}), top {self.k}."]
        if self.closest is None:
            out.append("The grade records no closest candidate.")
        else:
            score = "" if self.closest_score is None else f", score {self.closest_score:.2f}"
            via = f" by {self.closest_method}" if self.closest_method else ""
            vs = f" vs '{self.gold_name}'" if self.gold_name else ""
            out.append(f"Closest candidate: #{self.closest_rank} '{self.closest}'{vs}{via}{score}.")
        return out


def _effective_grade(session: Session, response_id: int) -> Grade | None:
    grades = list(session.exec(select(Grade).where(Grade.response_id == response_id)))
    clinician = [g for g in grades if g.status == "clinician"]
    return max(clinician or grades, key=lambda g: g.id or 0) if grades else None


def _closest(details: dict) -> dict | None:
    """The best-scoring stored match, preferring the grader's uncertain candidates' list when it has one."""
    pool = [m for m in (details.get("candidates") or []) + (details.get("matches") or []) if isinstance(m, dict)]
    scored = [m for m in pool if isinstance(m.get("score"), int | float)]
    return max(scored, key=lambda m: m["score"]) if scored else None


def why_wrong(session: Session, response_id: int) -> WhyWrong | None:
    """The grade that counts for this response, explained; None when it has no grade."""
    g = _effective_grade(session, response_id)
    if g is None:
        return None
    best = _closest(g.details or {})
    if best is None and g.matched_diagnosis:
        best = {"diagnosis": g.matched_diagnosis, "rank": g.rank, "score": g.score, "method": g.method}
    return WhyWrong(
        correct=g.correct,
        method=g.method,
        grader=g.grader,
        status=g.status,
        k=g.k,
        closest=None if best is None else str(best.get("diagnosis")),
        closest_rank=None if best is None else best.get("rank"),
        closest_score=None if best is None else best.get("score"),
        closest_method=None if best is None else best.get("method"),
        gold_name=None if best is None else best.get("gold_name"),
        graded_by_clinician=g.status == "clinician",
    )


@dataclass(frozen=True)
class Regraded:
    grade_id: int
    withdrawn_from: list[str]  # annotators whose unlabelled assignment of the item was withdrawn


def mark_answer_correct(
    session: Session, *, study_id: int, response_id: int, annotator_id: int, rank: int, note: str | None = None
) -> Regraded:
    """A clinician says the answer is correct after all: listed diagnosis `rank` is the gold.

    Records a clinician grade (it wins over the automatic one; Grade keeps who, when, the
    previous grade and the note) and takes the item out of the reasoning queue: assignments
    of it that nobody has labelled yet are withdrawn; existing labels stay as they are.
    """
    from pipeline.accuracy import record_clinician_grade

    response_of_study(session, study_id, response_id)
    assignment_of(session, study_id, response_id, annotator_id)  # only for items given to this person
    grade = record_clinician_grade(
        session, response_id=response_id, annotator_id=annotator_id, rank=rank, note=(note or "").strip() or None
    )
    labelled = set(
        session.exec(
            select(Annotation.annotator_id).where(
                Annotation.study_id == study_id, Annotation.response_id == response_id
            )
        )
    )
    open_rows = [
        a
        for a in session.exec(
            select(Assignment).where(Assignment.study_id == study_id, Assignment.response_id == response_id)
        )
        if a.annotator_id not in labelled
    ]
    names = dict(
        session.exec(
            select(Annotator.id, Annotator.username).where(
                col(Annotator.id).in_([a.annotator_id for a in open_rows] or [-1])
            )
        ).all()
    )
    withdrawn = sorted(names[a.annotator_id] for a in open_rows)
    for a in open_rows:
        session.delete(a)
    grade.details = {**(grade.details or {}), "source": "annotation view", "withdrawn_from": withdrawn}
    session.add(grade)
    session.flush()
    return Regraded(grade.id, withdrawn)


def listed_diagnoses(session: Session, response_id: int) -> list[str]:
    """The diagnoses a clinician can point at (those the grader compared, else the parsed ones)."""
    g = _effective_grade(session, response_id)
    listed = (g.details or {}).get("diagnoses") if g is not None else None
    if listed:
        return [str(d) for d in listed]
    resp = session.get(Response, response_id)
    if resp is None:
        raise DxTraceError(f"no response with id {response_id}")
    return [str(d) for d in (resp.diagnoses or [])][: g.k if g else 5]


NO_ERROR_CODE = "no_error"


@dataclass(frozen=True)
class NoErrorGrade:
    """A response whose settled final label is 'no reasoning error', and what its grade does about it."""

    response_id: int
    case_key: str
    final_method: str
    grade: str  # the grade that counts, in words
    follows: bool  # the grade now says the answer is correct
    why: str


def settled_no_error(session: Session, study_id: int) -> list[NoErrorGrade]:
    """Every settled "no reasoning error" with the grade that counts and why it follows or stands.

    The codebook's "no reasoning error" covers two cases: the answer is right and its grade wrong, or
    the reasoning is sound on an ambiguous case. Only a clinician grade (audited, with the listed
    diagnosis that is the gold) turns a grade; the app asks the annotator which case it is and records
    that grade with the label. A grade that still says wrong therefore stands, and this says why.
    """
    from db.models import Case, FinalLabel

    rows = session.exec(
        select(FinalLabel, Case.case_key)
        .join(Response, Response.id == FinalLabel.response_id)
        .join(Case, Case.id == Response.case_id)
        .where(FinalLabel.study_id == study_id)
        .order_by(FinalLabel.response_id)
    ).all()
    out = []
    for final, case_key in rows:
        if list(final.error_modes or []) != [NO_ERROR_CODE]:
            continue
        g = _effective_grade(session, final.response_id)
        if g is None:
            grade, follows, why = "ungraded", False, "the response has no grade"
        elif g.status == "clinician" and g.correct:
            grade, follows = f"correct: clinician {g.grader}, listed #{g.rank}", True
            why = "the grade follows: a clinician recorded the answer as correct"
        elif g.correct:
            grade, follows, why = f"correct ({g.method})", True, "the answer was graded correct"
        else:
            grade = f"{'wrong' if g.correct is False else g.status} ({g.method}, {g.grader})"
            follows = False
            why = (
                "the grade stands: no annotator recorded the answer as correct, so 'no reasoning error' "
                "says the reasoning is sound on an ambiguous case, not that the answer names the gold"
            )
        out.append(NoErrorGrade(final.response_id, case_key, final.method, grade, follows, why))
    return out
