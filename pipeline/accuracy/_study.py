"""The study table of a study in the database: effective grades -> accuracy_report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd
from sqlmodel import Session, select

from db.models import Case, CaseSet, Model, Response, Run
from pipeline.accuracy._grade import STATUS_STALE, UNGRADED, effective_grades, get_study
from pipeline.accuracy._report import AccuracyReport, accuracy_report
from pipeline.errors import DxTraceError


def study_pairs(session: Session, study_id: int) -> list[tuple[str, str]]:
    """(reasoning model, its base model) for every model with a configured pairing."""
    models = {m.id: m for m in session.exec(select(Model).where(Model.study_id == study_id))}
    return [(m.name, models[m.paired_model_id].name) for m in models.values() if m.paired_model_id in models]


def study_accuracy(
    session: Session,
    study_id: int | str,
    *,
    alpha: float | None = None,
    correction: str | None = None,
    subgroups: Sequence[str] = ("incidence", "specialty"),
    pairs: Sequence[tuple[str, str]] | None = None,
    models: Sequence[str] | None = None,
    repeat: int = 0,
    test: str = "exact",
    ci_method: str = "wilson",
    conf_level: float | None = None,
    difference: str = "newcombe",
    pending: str = "exclude",
    case_set: str | None = None,
    grades: pd.DataFrame | None = None,
) -> AccuracyReport:
    """Accuracy per model and McNemar per pair of a study, from its effective grades.

    alpha defaults to the study's significance level; pairs to the study's configured pairs.
    One repeat is analysed (McNemar pairs one answer per case and model): repeat 0 by default.
    case_set: only the responses on that case set. A study over several case sets is best read one
    case set at a time (study_accuracy_by_case_set): a model's accuracy over two different sets of
    cases mixes two different difficulties.
    grades: the study's effective_grades frame when the caller already has it (a report reads it once for
    every table instead of once per table); it is not modified.
    """
    study = get_study(session, study_id)
    frame = effective_grades(session, study.id) if grades is None else grades
    if frame.empty:
        raise DxTraceError(f"study {study.name!r} has no responses yet")
    if case_set is not None:
        known = sorted(frame["case_set"].unique())
        if case_set not in known:
            raise DxTraceError(
                f"study {study.name!r} has no responses on case set {case_set!r} (it has: {', '.join(known)})"
            )
        frame = frame[frame["case_set"] == case_set]
        # Subgroups this case set does not record (e.g. no incidence) would only add empty rows.
        subgroups = [s for s in subgroups if s in frame.columns and frame[s].notna().any()]
    frame = frame[frame["repeat"] == repeat]
    if frame.empty:
        raise DxTraceError(f"study {study.name!r} has no responses of repeat {repeat}")
    if models:
        unknown = sorted(set(models) - set(frame["model"]))
        if unknown:
            raise DxTraceError(f"no model {', '.join(unknown)} in study {study.name!r}")
        frame = frame[frame["model"].isin(models)]
    ungraded = int((frame["status"] == UNGRADED).sum())
    stale = int((frame["status"] == STATUS_STALE).sum())
    frame = frame[~frame["status"].isin([UNGRADED, STATUS_STALE])]
    if frame.empty:
        raise DxTraceError(f"no response of study {study.name!r} is graded yet; run: python -m pipeline grade")
    several_sets = frame["case_set"].nunique() > 1
    frame = frame.assign(case=frame["case_set"] + "/" + frame["case_key"] if several_sets else frame["case_key"])
    chosen = list(pairs) if pairs is not None else study_pairs(session, study.id)
    if models:
        chosen = [(a, b) for a, b in chosen if a in models and b in models]
    if pairs is None and case_set is not None:
        # Configured pairs are compared where both models answered this case set.
        present = set(frame["model"])
        chosen = [(a, b) for a, b in chosen if a in present and b in present]
    report = accuracy_report(
        frame,
        chosen,
        alpha=study.significance_level if alpha is None else alpha,
        correction=correction,
        subgroups=subgroups,
        test=test,
        ci_method=ci_method,
        conf_level=conf_level,
        difference=difference,
        pending=pending,
        source=f"study {study.name}" + (f", case set {case_set}" if case_set else ""),
    )
    if ungraded:
        report = replace(
            report, notes=(*report.notes, f"{ungraded} response(s) have no grade yet (run: python -m pipeline grade).")
        )
    if stale:
        note = f"{stale} response(s) were graded against a gold that has since changed (run: python -m pipeline grade)."
        report = replace(report, notes=(*report.notes, note))
    return report


def study_case_sets(session: Session, study_id: int | str) -> list[str]:
    """The case sets a study has responses on, by name."""
    study = get_study(session, study_id)
    rows = session.exec(
        select(CaseSet.name)
        .join(Case, Case.case_set_id == CaseSet.id)
        .join(Response, Response.case_id == Case.id)
        .join(Run, Run.id == Response.run_id)
        .where(Run.study_id == study.id)
        .distinct()
    ).all()
    return sorted(rows)


def study_accuracy_by_case_set(session: Session, study_id: int | str, **options) -> dict[str, AccuracyReport]:
    """One study table per case set with graded responses; a case set that cannot be analysed is left out."""
    reports: dict[str, AccuracyReport] = {}
    errors: dict[str, str] = {}
    for name in study_case_sets(session, study_id):
        try:
            reports[name] = study_accuracy(session, study_id, case_set=name, **options)
        except DxTraceError as exc:
            errors[name] = str(exc)
    if not reports:
        raise DxTraceError("; ".join(errors.values()) or "the study has no responses yet")
    return reports
