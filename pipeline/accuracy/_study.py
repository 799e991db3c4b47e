"""The study table of a study in the database: effective grades -> accuracy_report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlmodel import Session, select

from db.models import Model
from pipeline.accuracy._grade import UNGRADED, effective_grades, get_study
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
) -> AccuracyReport:
    """Accuracy per model and McNemar per pair of a study, from its effective grades.

    alpha defaults to the study's significance level; pairs to the study's configured pairs.
    One repeat is analysed (McNemar pairs one answer per case and model): repeat 0 by default.
    """
    study = get_study(session, study_id)
    frame = effective_grades(session, study.id)
    if frame.empty:
        raise DxTraceError(f"study {study.name!r} has no responses yet")
    frame = frame[frame["repeat"] == repeat]
    if frame.empty:
        raise DxTraceError(f"study {study.name!r} has no responses of repeat {repeat}")
    if models:
        unknown = sorted(set(models) - set(frame["model"]))
        if unknown:
            raise DxTraceError(f"no model {', '.join(unknown)} in study {study.name!r}")
        frame = frame[frame["model"].isin(models)]
    ungraded = int((frame["status"] == UNGRADED).sum())
    frame = frame[frame["status"] != UNGRADED]
    if frame.empty:
        raise DxTraceError(f"no response of study {study.name!r} is graded yet; run: python -m pipeline grade")
    several_sets = frame["case_set"].nunique() > 1
    frame = frame.assign(case=frame["case_set"] + "/" + frame["case_key"] if several_sets else frame["case_key"])
    chosen = list(pairs) if pairs is not None else study_pairs(session, study.id)
    if models:
        chosen = [(a, b) for a, b in chosen if a in models and b in models]
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
        source=f"study {study.name}",
    )
    if ungraded:
        report = replace(
            report, notes=(*report.notes, f"{ungraded} response(s) have no grade yet (run: python -m pipeline grade).")
        )
    return report
