"""An annotator's labels on one response: checked against the codebook, saved with an audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from db.models import (
    Annotation,
    AnnotationEvent,
    Annotator,
    Assignment,
    CodebookVersion,
    Response,
    Run,
    Study,
    utcnow,
)
from pipeline.annotation._codebook import Codebook, codebook_from_row, ensure_codebook
from pipeline.annotation._steps import split_steps
from pipeline.annotation._timing import ItemClock, record_time
from pipeline.errors import DxTraceError, InputError, Problem

SEVERITIES = ("minor", "moderate", "major", "critical")
CONFIDENCE_RANGE = (1, 5)
MAX_RATIONALE_CHARS = 20_000

STATUS_PENDING = "pending"
STATUS_DONE = "done"
STATUS_SKIPPED = "skipped"
STATUS_FLAGGED = "flagged"

# The fields of an annotation that the audit trail compares, before and after.
AUDITED_FIELDS = (
    "error_modes",
    "evidence",
    "other_description",
    "first_error_step",
    "severity",
    "confidence",
    "rationale",
    "flagged",
    "codebook_version_id",
)


@dataclass(frozen=True)
class AnnotationInput:
    """What the annotator chose; step numbers are those of split_steps(trace), from 1."""

    error_modes: list[str] = field(default_factory=list)
    evidence: dict[str, list[int]] = field(default_factory=dict)
    first_error_step: int | None = None
    severity: str | None = None
    confidence: int | None = None
    rationale: str | None = None
    other_description: str | None = None
    flagged: bool = False

    def problems(self, codebook: Codebook, n_steps: int) -> list[Problem]:
        """Everything wrong with these labels, each naming its field."""
        out: list[Problem] = []

        def bad(fld: str, msg: str) -> None:
            out.append(Problem("annotation", None, fld, msg))

        codes = list(self.error_modes)
        unknown = [c for c in codes if c not in codebook.codes]
        if unknown:
            bad("error_modes", f"not in codebook version {codebook.version}: {', '.join(unknown)}")
        if len(set(codes)) != len(codes):
            bad("error_modes", "a mode is listed twice")
        if not codes and not self.flagged:
            bad("error_modes", "choose at least one error mode (or flag the item for discussion)")
        exclusive = [c for c in codes if c in codebook.codes and codebook.mode(c).exclusive]
        if exclusive and len(codes) > 1:
            bad("error_modes", f"{codebook.name_of(exclusive[0])!r} excludes every other mode")
        for c in codes:
            if (
                c in codebook.codes
                and codebook.mode(c).needs_description
                and not (self.other_description or "").strip()
            ):
                bad("other_description", f"describe the {codebook.name_of(c)!r} error")
        for code, steps in self.evidence.items():
            if code not in codes:
                bad(f"evidence.{code}", "evidence given for a mode that is not chosen")
                continue
            if exclusive:
                bad(f"evidence.{code}", "no evidence steps for 'no reasoning error'")
            for s in steps:
                if not isinstance(s, int) or isinstance(s, bool) or not 1 <= s <= n_steps:
                    bad(f"evidence.{code}", f"step {s!r} is not a step of this trace (1-{n_steps})")
        if self.first_error_step is not None:
            s = self.first_error_step
            if exclusive:
                bad("first_error_step", "no first erroneous step for 'no reasoning error'")
            elif not isinstance(s, int) or isinstance(s, bool) or not 1 <= s <= n_steps:
                bad("first_error_step", f"step {s!r} is not a step of this trace (1-{n_steps})")
        if self.severity is not None and self.severity not in SEVERITIES:
            bad("severity", f"must be one of {', '.join(SEVERITIES)}")
        if self.confidence is not None:
            lo, hi = CONFIDENCE_RANGE
            if (
                not isinstance(self.confidence, int)
                or isinstance(self.confidence, bool)
                or not lo <= self.confidence <= hi
            ):
                bad("confidence", f"must be a whole number from {lo} to {hi}")
        if self.rationale and len(self.rationale) > MAX_RATIONALE_CHARS:
            bad("rationale", f"at most {MAX_RATIONALE_CHARS} characters")
        return out

    def normalised(self) -> dict[str, Any]:
        """The stored form: evidence sorted, empty strings as None, modes in the order chosen."""
        evidence = {c: sorted(set(self.evidence[c])) for c in self.error_modes if self.evidence.get(c)}
        return {
            "error_modes": list(self.error_modes),
            "evidence": evidence or None,
            "other_description": (self.other_description or "").strip() or None
            if "other" in self.error_modes
            else None,
            "first_error_step": self.first_error_step,
            "severity": self.severity,
            "confidence": self.confidence,
            "rationale": (self.rationale or "").strip() or None,
            "flagged": bool(self.flagged),
        }


def snapshot(annotation: Annotation) -> dict[str, Any]:
    """The audited fields of an annotation, as kept in AnnotationEvent.before/after."""
    return {f: getattr(annotation, f) for f in AUDITED_FIELDS}


def response_of_study(session: Session, study_id: int, response_id: int) -> Response:
    response = session.get(Response, response_id)
    run = session.get(Run, response.run_id) if response is not None else None
    if response is None or run is None or run.study_id != study_id:
        raise DxTraceError(f"response {response_id} is not part of study {study_id}")
    return response


def assignment_of(session: Session, study_id: int, response_id: int, annotator_id: int) -> Assignment:
    found = session.exec(
        select(Assignment).where(
            Assignment.study_id == study_id,
            Assignment.response_id == response_id,
            Assignment.annotator_id == annotator_id,
        )
    ).first()
    if found is None:
        # Also what an annotator sees when the lead moved the item away while it was on screen.
        raise DxTraceError(
            f"response {response_id} is not assigned to this annotator in study {study_id} (any more: the study "
            "lead may have moved it to someone else); nothing was saved for it. Go to the next item in your queue."
        )
    return found


def _active_person(session: Session, annotator_id: int) -> Annotator:
    person = session.get(Annotator, annotator_id)
    if person is None or not person.active:
        raise DxTraceError("this account does not exist or is deactivated")
    return person


def study_codebook(session: Session, study: Study) -> tuple[int, Codebook]:
    """The codebook a study labels with; the shipped default is pinned on the study at first use."""
    if study.codebook_version_id is None:
        row = ensure_codebook(session)
        study.codebook_version_id = row.id
        session.add(study)
        session.flush()
    else:
        row = session.get(CodebookVersion, study.codebook_version_id)
    return row.id, codebook_from_row(row)


def _lock_assignment(session: Session, assignment: Assignment) -> None:
    """Serialise saves of one item by one annotator (two tabs): a write on the assignment row first.

    PostgreSQL locks the row until commit; SQLite takes its write lock. Whatever is read after this sees
    the other tab's committed save, so a create becomes an update and each audit event's `before` is
    the labels really stored before it.
    """
    session.execute(update(Assignment).where(Assignment.id == assignment.id).values(updated_at=utcnow()))
    session.expire(assignment)


def save_annotation(
    session: Session,
    *,
    study_id: int,
    response_id: int,
    annotator_id: int,
    labels: AnnotationInput,
    suggestion: dict | None = None,
    signals: dict | None = None,
    signals_shown: bool = False,
    clock: ItemClock | None = None,
) -> Annotation:
    """Create or change this annotator's annotation of the response; every change goes into AnnotationEvent.

    suggestion: the label suggestion shown to the annotator while labelling, if any;
    it is stored and suggestion_shown stays true once a suggestion was ever shown.
    signals_shown / signals: whether automatic error signals were on screen, and which ({signal: [steps]});
    likewise signals_shown stays true once they were ever shown.
    clock: this visit's time on the item (opened, active seconds), added to the annotation's time.
    """
    _active_person(session, annotator_id)
    study = session.get(Study, study_id)
    if study is None:
        raise DxTraceError(f"no study with id {study_id}")
    response = response_of_study(session, study_id, response_id)
    assignment = assignment_of(session, study_id, response_id, annotator_id)
    codebook_id, codebook = study_codebook(session, study)
    _lock_assignment(session, assignment)
    problems = labels.problems(codebook, len(split_steps(response.trace)))
    if problems:
        raise InputError(problems)
    values = labels.normalised()
    values["codebook_version_id"] = codebook_id
    now = utcnow()

    annotation = session.exec(
        select(Annotation).where(
            Annotation.study_id == study_id,
            Annotation.response_id == response_id,
            Annotation.annotator_id == annotator_id,
        )
    ).first()
    if annotation is None:
        annotation = Annotation(
            study_id=study_id,
            response_id=response_id,
            annotator_id=annotator_id,
            suggestion_shown=suggestion is not None,
            suggestion=suggestion,
            signals_shown=signals_shown,
            signals=signals if signals_shown else None,
            created_at=now,
            updated_at=now,
            **values,
        )
        session.add(annotation)
        session.flush()
        session.add(
            AnnotationEvent(
                annotation_id=annotation.id,
                annotator_id=annotator_id,
                action="create",
                before=None,
                after=snapshot(annotation),
                at=now,
            )
        )
    else:
        before = snapshot(annotation)
        for key, value in values.items():
            setattr(annotation, key, value)
        if suggestion is not None:
            annotation.suggestion_shown = True
            annotation.suggestion = suggestion
        if signals_shown:
            annotation.signals_shown = True
            annotation.signals = signals
        elif annotation.signals_shown is None:
            annotation.signals_shown = False
        after = snapshot(annotation)
        if after != before:  # saving unchanged labels again is not a change
            annotation.updated_at = now
            session.add(
                AnnotationEvent(
                    annotation_id=annotation.id,
                    annotator_id=annotator_id,
                    action="update",
                    before=before,
                    after=after,
                    at=now,
                )
            )
        session.add(annotation)

    if clock is not None:  # time is not an audited label: it changes no event
        record_time(annotation, clock, now)
        session.add(annotation)
    assignment.status = STATUS_FLAGGED if labels.flagged else STATUS_DONE
    assignment.updated_at = now
    session.add(assignment)
    session.flush()
    return annotation


def skip_item(session: Session, *, study_id: int, response_id: int, annotator_id: int) -> Assignment:
    """Put an item aside: a pending item becomes skipped (it comes back when nothing else is pending)."""
    _active_person(session, annotator_id)
    assignment = assignment_of(session, study_id, response_id, annotator_id)
    if assignment.status == STATUS_PENDING:
        assignment.status = STATUS_SKIPPED
        assignment.updated_at = utcnow()
        session.add(assignment)
        session.flush()
    return assignment


def annotation_history(session: Session, annotation_id: int) -> list[AnnotationEvent]:
    """The audit trail of an annotation, oldest first."""
    return list(
        session.exec(
            select(AnnotationEvent)
            .where(AnnotationEvent.annotation_id == annotation_id)
            .order_by(AnnotationEvent.at, AnnotationEvent.id)
        )
    )


def labels_from_annotation(annotation: Annotation | None) -> AnnotationInput:
    """An annotation as the form's starting values, so an annotator can return and change it."""
    if annotation is None:
        return AnnotationInput()
    return AnnotationInput(
        error_modes=list(annotation.error_modes or []),
        evidence={k: list(v) for k, v in (annotation.evidence or {}).items()},
        first_error_step=annotation.first_error_step,
        severity=annotation.severity,
        confidence=annotation.confidence,
        rationale=annotation.rationale,
        other_description=annotation.other_description,
        flagged=annotation.flagged,
    )
