"""Final labels: settled automatically when annotators agree (unanimous, majority), else adjudicated by a lead."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, select

from db.models import (
    ROLE_LEAD,
    Annotation,
    Annotator,
    Assignment,
    Case,
    FinalLabel,
    Model,
    Response,
    Run,
    utcnow,
)
from pipeline.agreement._model import NO_ERROR, normalise_labels
from pipeline.agreement._read import rater_alias, study_error_modes
from pipeline.errors import DxTraceError, InputError, Problem
from pipeline.studies import get_study

METHOD_UNANIMOUS = "unanimous"
METHOD_MAJORITY = "majority"
METHOD_ADJUDICATED = "adjudicated"
METHODS = (METHOD_UNANIMOUS, METHOD_MAJORITY, METHOD_ADJUDICATED)
STATUS_DISAGREEMENT = "disagreement"
STATUS_AWAITING = "awaiting ratings"
STATUS_FLAGGED = "flagged"  # an annotator asked for a discussion: only a lead settles it


@dataclass(frozen=True)
class Decision:
    """What the annotators' labels settle on their own (pure; see decide())."""

    status: str  # unanimous, majority, disagreement, awaiting ratings
    labels: frozenset[str] | None  # settled error modes (empty = no error); None if not settled
    first_error_step: int | None
    votes: dict[str, int]  # error mode (or no_error) -> annotators who chose it
    n_ratings: int
    note: str = ""

    @property
    def settled(self) -> bool:
        return self.status in (METHOD_UNANIMOUS, METHOD_MAJORITY)


def _settle_step(steps: Sequence[int | None]) -> tuple[int | None, str]:
    given = [s for s in steps if s is not None]
    if not given:
        return None, ""
    top, count = Counter(given).most_common(1)[0]
    if count * 2 > len(given):
        return top, ""
    return None, "first error step not settled (" + ", ".join(str(s) for s in given) + ")"


def decide(label_sets: Sequence[frozenset[str]], steps: Sequence[int | None] = (), min_ratings: int = 2) -> Decision:
    """Unanimous when every set is the same; majority when each error mode (and "no error") is chosen
    by more or by fewer than half of the annotators, with no tie, and the result is consistent
    (an empty result needs a majority for "no error"); otherwise a disagreement for a lead.
    The first error step is the one most annotators who saw an error named, if more than half did.
    """
    n = len(label_sets)
    votes = Counter(code for s in label_sets for code in s)
    votes[NO_ERROR] = sum(1 for s in label_sets if not s)
    votes = {k: v for k, v in votes.items() if v}
    steps = list(steps) + [None] * (n - len(steps))
    if n < min_ratings:
        return Decision(STATUS_AWAITING, None, None, votes, n)
    if len(set(label_sets)) == 1:
        labels = label_sets[0]
        step, note = _settle_step([s for s, ls in zip(steps, label_sets, strict=True) if ls]) if labels else (None, "")
        return Decision(METHOD_UNANIMOUS, labels, step, votes, n, note)
    if any(v * 2 == n for v in votes.values()):
        tied = sorted(k for k, v in votes.items() if v * 2 == n)
        return Decision(STATUS_DISAGREEMENT, None, None, votes, n, "tie on " + ", ".join(tied))
    labels = frozenset(k for k, v in votes.items() if v * 2 > n and k != NO_ERROR)
    no_error_majority = votes.get(NO_ERROR, 0) * 2 > n
    if not labels and not no_error_majority:
        return Decision(STATUS_DISAGREEMENT, None, None, votes, n, "no error mode has a majority")
    step, note = (None, "")
    if labels:
        step, note = _settle_step([s for s, ls in zip(steps, label_sets, strict=True) if ls & labels])
    return Decision(METHOD_MAJORITY, labels, step, votes, n, note)


def stored_modes(labels: frozenset[str] | Sequence[str], order: Sequence[str]) -> list[str]:
    """The stored form of a label set, like an annotation's: codebook order; ["no_error"] for none."""
    labels = normalise_labels(labels)
    if not labels:
        return [NO_ERROR]
    rank = {c: i for i, c in enumerate(order)}
    return sorted(labels, key=lambda c: (rank.get(c, len(rank)), c))


# --- the database side ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RaterLabels:
    """One annotator's labels as the lead sees them in adjudication: by alias (A, B, C), not by name."""

    alias: str
    annotator_id: int
    error_modes: tuple[str, ...]
    evidence: dict[str, list[int]]
    first_error_step: int | None
    severity: str | None
    confidence: int | None
    rationale: str | None
    other_description: str | None
    flagged: bool


@dataclass(frozen=True)
class Disagreement:
    """A response whose annotators did not settle it, with everything a lead needs to adjudicate."""

    response_id: int
    case_key: str
    model: str
    vignette: str
    gold_diagnosis: str
    trace: str | None
    answer: str | None
    raters: tuple[RaterLabels, ...]
    decision: Decision
    final_error_modes: tuple[str, ...] | None = None
    final_method: str | None = None
    final_first_error_step: int | None = None

    def evidence_by_step(self) -> dict[int, list[tuple[str, str]]]:
        """step number -> [(alias, error mode)] of every annotator who cited that step as evidence."""
        out: dict[int, list[tuple[str, str]]] = {}
        for r in self.raters:
            for code, steps in (r.evidence or {}).items():
                for s in steps:
                    out.setdefault(int(s), []).append((r.alias, code))
            if r.first_error_step is not None:
                out.setdefault(int(r.first_error_step), []).append((r.alias, "first error"))
        return dict(sorted(out.items()))


@dataclass
class SettleSummary:
    responses: int = 0  # responses with at least one rating
    unanimous: int = 0
    majority: int = 0
    adjudicated: int = 0  # kept: a lead's decision is never overwritten here
    disagreements: int = 0  # waiting for a lead
    flagged: int = 0  # flagged by an annotator: waiting for a lead, never settled automatically
    awaiting: int = 0  # fewer ratings than needed
    reopened: int = 0  # automatic final labels removed because the annotations changed
    written: int = 0  # final labels created or changed
    by_response: dict[int, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.responses} responses rated: {self.unanimous} unanimous, {self.majority} majority, "
            f"{self.adjudicated} adjudicated, {self.disagreements} waiting for adjudication, "
            + (f"{self.flagged} flagged for a lead, " if self.flagged else "")
            + f"{self.awaiting} waiting for more ratings"
            + (f"; {self.reopened} reopened after annotations changed" if self.reopened else "")
            + f" ({self.written} final labels written)"
        )


def _annotations_by_response(session: Session, study_id: int) -> dict[int, list[Annotation]]:
    out: dict[int, list[Annotation]] = {}
    rows = session.exec(
        select(Annotation).where(Annotation.study_id == study_id).order_by(Annotation.created_at, Annotation.id)
    )
    for a in rows:
        if a.error_modes:  # flagged without a mode is not a rating yet
            out.setdefault(a.response_id, []).append(a)
    return out


def flagged_response_ids(session: Session, study_id: int) -> set[int]:
    """Responses an annotator flagged for discussion (with or without error modes)."""
    return set(
        session.exec(
            select(Annotation.response_id).where(Annotation.study_id == study_id, Annotation.flagged == True)  # noqa: E712
        )
    )


def _decision_of(annotations: Sequence[Annotation], min_ratings: int) -> Decision:
    sets = [normalise_labels(a.error_modes) for a in annotations]
    return decide(sets, [a.first_error_step for a in annotations], min_ratings)


def _finals(session: Session, study_id: int) -> dict[int, FinalLabel]:
    return {f.response_id: f for f in session.exec(select(FinalLabel).where(FinalLabel.study_id == study_id))}


def _auto_rationale(d: Decision) -> str:
    votes = ", ".join(f"{k} {v}/{d.n_ratings}" for k, v in sorted(d.votes.items()))
    text = f"{d.status} of {d.n_ratings} annotators ({votes})"
    return f"{text}; {d.note}" if d.note else text


def settle_final_labels(session: Session, study_id: int, *, min_ratings: int = 2) -> SettleSummary:
    """Write final labels where the annotators agree (unanimous or majority); keep every adjudicated one.

    Run it again after annotations change: automatic final labels follow the annotations (and are
    removed if the response is now a disagreement); a lead's adjudication is never touched.
    """
    study = get_study(session, study_id)
    order = study_error_modes(session, study)
    finals = _finals(session, study_id)
    summary = SettleSummary()
    assigned = set(session.exec(select(Assignment.response_id).where(Assignment.study_id == study_id)).all())
    by_response = _annotations_by_response(session, study_id)
    flagged = flagged_response_ids(session, study_id)
    now = utcnow()
    for response_id in sorted(set(by_response) | assigned):
        anns = by_response.get(response_id, [])
        existing = finals.get(response_id)
        if anns:
            summary.responses += 1
        if existing is not None and existing.method == METHOD_ADJUDICATED:
            summary.adjudicated += 1
            summary.by_response[response_id] = METHOD_ADJUDICATED
            continue
        if response_id in flagged:  # a flag asks for a lead, even when the labels agree
            summary.flagged += 1
            summary.by_response[response_id] = STATUS_FLAGGED
            if existing is not None:
                session.delete(existing)
                summary.reopened += 1
            continue
        d = _decision_of(anns, min_ratings)
        summary.by_response[response_id] = d.status
        if not d.settled:
            if d.status == STATUS_DISAGREEMENT:
                summary.disagreements += 1
            else:
                summary.awaiting += 1
            if existing is not None:
                session.delete(existing)
                summary.reopened += 1
            continue
        summary.unanimous += d.status == METHOD_UNANIMOUS
        summary.majority += d.status == METHOD_MAJORITY
        values = {
            "error_modes": stored_modes(d.labels or frozenset(), order),
            "first_error_step": d.first_error_step,
            "method": d.status,
            "adjudicator_id": None,
            "rationale": _auto_rationale(d),
            "codebook_version_id": study.codebook_version_id,
        }
        if existing is None:
            session.add(
                FinalLabel(study_id=study_id, response_id=response_id, created_at=now, updated_at=now, **values)
            )
            summary.written += 1
        elif any(getattr(existing, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(existing, k, v)
            existing.updated_at = now
            session.add(existing)
            summary.written += 1
    session.flush()
    return summary


def _load_disagreement(
    session: Session, response_id: int, anns: Sequence[Annotation], d: Decision, final: FinalLabel | None
) -> Disagreement:
    resp = session.get(Response, response_id)
    case = session.get(Case, resp.case_id)
    model = session.get(Model, resp.model_id)
    raters = tuple(
        RaterLabels(
            alias=rater_alias(i),
            annotator_id=a.annotator_id,
            error_modes=tuple(a.error_modes or ()),
            evidence={k: list(v) for k, v in (a.evidence or {}).items()},
            first_error_step=a.first_error_step,
            severity=a.severity,
            confidence=a.confidence,
            rationale=a.rationale,
            other_description=a.other_description,
            flagged=a.flagged,
        )
        for i, a in enumerate(anns)
    )
    return Disagreement(
        response_id=response_id,
        case_key=case.case_key,
        model=model.name if model else "",
        vignette=case.vignette,
        gold_diagnosis=case.gold_diagnosis,
        trace=resp.trace,
        answer=resp.answer,
        raters=raters,
        decision=d,
        final_error_modes=tuple(final.error_modes) if final else None,
        final_method=final.method if final else None,
        final_first_error_step=final.first_error_step if final else None,
    )


def disagreements(
    session: Session, study_id: int, *, include_settled: bool = False, min_ratings: int = 2
) -> list[Disagreement]:
    """The adjudication queue: responses whose annotators disagree and no lead has decided yet.

    include_settled adds every response with two or more ratings whose annotators did not all agree
    (majority-settled and already adjudicated ones), for review. Annotators are shown as A, B, C in
    the order they labelled the response.
    """
    get_study(session, study_id)
    finals = _finals(session, study_id)
    flagged = flagged_response_ids(session, study_id)
    out = []
    for response_id, anns in sorted(_annotations_by_response(session, study_id).items()):
        d = _decision_of(anns, min_ratings)
        final = finals.get(response_id)
        adjudicated = final is not None and final.method == METHOD_ADJUDICATED
        waiting = (d.status == STATUS_DISAGREEMENT or response_id in flagged) and not adjudicated
        reviewable = include_settled and len(anns) >= min_ratings and d.status != METHOD_UNANIMOUS
        if waiting or reviewable:
            out.append(_load_disagreement(session, response_id, anns, d, final))
    return out


def get_disagreement(session: Session, study_id: int, response_id: int, *, min_ratings: int = 2) -> Disagreement:
    """One response's annotations side by side (whatever its status)."""
    anns = _annotations_by_response(session, study_id).get(response_id)
    if not anns:
        raise DxTraceError(f"response {response_id} has no annotations in study {study_id}")
    return _load_disagreement(
        session, response_id, anns, _decision_of(anns, min_ratings), _finals(session, study_id).get(response_id)
    )


def adjudicate(
    session: Session,
    *,
    study_id: int,
    response_id: int,
    adjudicator_id: int,
    error_modes: Sequence[str],
    first_error_step: int | None = None,
    rationale: str | None = None,
) -> FinalLabel:
    """A lead sets the final labels of a response (replacing any earlier final label)."""
    from pipeline.annotation import split_steps

    study = get_study(session, study_id)
    lead = session.get(Annotator, adjudicator_id)
    if lead is None or not lead.active:
        raise DxTraceError("this account does not exist or is deactivated")
    if lead.role != ROLE_LEAD:
        raise DxTraceError(f"{lead.username} is not a lead; only a lead adjudicates")
    resp = session.get(Response, response_id)
    run = session.get(Run, resp.run_id) if resp is not None else None
    if resp is None or run is None or run.study_id != study_id:
        raise DxTraceError(f"response {response_id} is not part of study {study.name}")
    order = study_error_modes(session, study)
    problems = []

    def bad(fld: str, msg: str) -> None:
        problems.append(Problem("adjudication", None, fld, msg))

    codes = [str(c).strip() for c in error_modes if str(c).strip()]
    unknown = [c for c in codes if c not in order and c != NO_ERROR]
    if unknown:
        bad(
            "error_modes", f"not in the study's codebook: {', '.join(unknown)} (known: {', '.join((*order, NO_ERROR))})"
        )
    if not codes:
        bad("error_modes", f"choose at least one error mode, or {NO_ERROR!r}")
    if NO_ERROR in codes and len(set(codes)) > 1:
        bad("error_modes", f"{NO_ERROR!r} excludes every other mode")
    labels = normalise_labels(codes)
    if first_error_step is not None:
        n_steps = len(split_steps(resp.trace))
        if not labels:
            bad("first_error_step", f"no first erroneous step with {NO_ERROR!r}")
        elif (
            isinstance(first_error_step, bool)
            or not isinstance(first_error_step, int)
            or not (1 <= first_error_step <= n_steps)
        ):
            bad("first_error_step", f"step {first_error_step!r} is not a step of this trace (1-{n_steps})")
    if problems:
        raise InputError(problems)
    now = utcnow()
    final = session.exec(
        select(FinalLabel).where(FinalLabel.study_id == study_id, FinalLabel.response_id == response_id)
    ).first()
    values = {
        "error_modes": stored_modes(labels, order),
        "first_error_step": first_error_step,
        "method": METHOD_ADJUDICATED,
        "adjudicator_id": adjudicator_id,
        "rationale": (rationale or "").strip() or None,
        "codebook_version_id": study.codebook_version_id,
        "updated_at": now,
    }
    if final is None:
        final = FinalLabel(study_id=study_id, response_id=response_id, created_at=now, **values)
    else:
        for k, v in values.items():
            setattr(final, k, v)
    session.add(final)
    session.flush()
    return final


def final_labels_frame(session: Session, study_id: int):
    """Every final label of the study: response, case, error modes, first error step, method, adjudicator."""
    import pandas as pd

    rows = session.exec(
        select(FinalLabel, Response.case_id, Annotator.username)
        .join(Response, Response.id == FinalLabel.response_id)
        .join(Annotator, Annotator.id == FinalLabel.adjudicator_id, isouter=True)
        .where(FinalLabel.study_id == study_id)
        .order_by(FinalLabel.response_id)
    ).all()
    return pd.DataFrame(
        [
            {
                "response_id": f.response_id,
                "case_id": case_id,
                "error_modes": ";".join(f.error_modes),
                "first_error_step": f.first_error_step,
                "method": f.method,
                "adjudicator": username,
                "rationale": f.rationale,
            }
            for f, case_id, username in rows
        ],
        columns=["response_id", "case_id", "error_modes", "first_error_step", "method", "adjudicator", "rationale"],
    )
