"""The report's section on automatic error signals: prevalence per model and per pair among incorrect and
correct responses (Wilson CIs), and each signal against the settled final labels of its error mode.

Self-contained (one function, rendered by the report's generic section blocks) so it can be moved or
re-pointed without touching the rest of the report.
"""

from __future__ import annotations

import pandas as pd
from sqlmodel import Session, select

from db.models import Model
from pipeline.report._model import Paragraph, Section, Table

SECTION_ID = "signals"
TITLE = "Automatic error signals"
HOW = "python -m pipeline signals --study {study}"


def _cell(fired: int, n: int) -> str:
    from pipeline.accuracy import proportion_ci

    if n == 0:
        return "–"
    p = proportion_ci(fired, n)
    return f"{fired}/{n} ({p.estimate:.0%}; {p.lower:.0%}–{p.upper:.0%})"


def _joined(session: Session, study_id: int, grades: pd.DataFrame | None = None) -> pd.DataFrame:
    from pipeline.accuracy import effective_grades
    from pipeline.signals import signals_frame

    signals = signals_frame(session, study_id)
    if grades is None:
        grades = effective_grades(session, study_id)
    return signals.merge(grades[["response_id", "model", "model_id", "correct"]], on="response_id", how="left")


def _prevalence_rows(frame: pd.DataFrame, titles: dict[str, str], models: list[str]) -> list[list[str]]:
    rows = []
    for name in dict.fromkeys(frame["signal"]):
        for model in models:
            part = frame[(frame["signal"] == name) & (frame["model"] == model) & frame["fired"].notna()]
            cells = []
            for correct in (False, True):
                grp = part[part["correct"].eq(correct).fillna(False)]
                cells.append(_cell(int(grp["fired"].astype(bool).sum()), len(grp)))
            rows.append([titles.get(name, name), model, *cells])
    return rows


def signals_section(
    session: Session,
    study_id: int,
    study_name: str,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    grades: pd.DataFrame | None = None,
) -> Section:
    """The section, or a 'not available yet' section saying how to compute the signals.

    grades: the study's effective_grades frame when the caller already has it (read once per report)."""
    from pipeline.signals import registered, study_validation

    frame = _joined(session, study_id, grades)
    if frame.empty:
        return Section.missing(SECTION_ID, TITLE, "no signals computed yet", how=HOW.format(study=study_name))
    titles = {s.name: s.title for s in registered()}
    s = Section(SECTION_ID, TITLE)
    s.add(
        Paragraph(
            "Deterministic signals computed from each trace (docs/signals.md). A signal is evidence for a clinician "
            "to weigh, not a label: the prevalences below count firings, not errors."
        )
    )
    models = sorted(m for m in frame["model"].dropna().unique())
    s.add(
        Table(
            ["signal", "model", "among incorrect", "among correct"],
            _prevalence_rows(frame, titles, models),
            caption="Prevalence of each signal per model (fired/n, Wilson 95% CI); n counts responses it could decide",
            id="signals-prevalence",
        )
    )
    pairs = [
        (m.name, session.get(Model, m.paired_model_id).name)
        for m in session.exec(select(Model).where(Model.study_id == study_id, Model.paired_model_id.is_not(None)))
    ]
    if pairs:
        rows = []
        for reasoning, base in pairs:
            for name in dict.fromkeys(frame["signal"]):
                cells = []
                for model in (reasoning, base):
                    part = frame[(frame["signal"] == name) & (frame["model"] == model) & frame["fired"].notna()]
                    grp = part[part["correct"].eq(False).fillna(False)]
                    cells.append(_cell(int(grp["fired"].astype(bool).sum()), len(grp)))
                rows.append([f"{reasoning} vs {base}", titles.get(name, name), *cells])
        s.add(
            Table(
                ["pair", "signal", "model among incorrect", "paired model among incorrect"],
                rows,
                caption="Per pair: prevalence among incorrect responses (a model without traces has none: –)",
                id="signals-pairs",
            )
        )
    from pipeline.signals import validation_rows

    rows = validation_rows(study_validation(session, study_id, n_boot=n_boot, seed=seed))
    s.add(
        Table(
            ["signal", "error mode", "n", "sensitivity", "PPV", "Cohen's kappa"],
            [
                [
                    titles.get(r["signal"], r["signal"]),
                    r["error mode"],
                    str(r["n"]),
                    r["sensitivity"],
                    r["PPV"],
                    r["Cohen's kappa"],
                ]
                for r in rows
            ],  # fmt: skip
            caption="Each signal against the settled final labels of its error mode (bootstrap 95% CIs over responses)",
            id="signals-validation",
        )
    )
    return s
