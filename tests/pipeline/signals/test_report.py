"""The report's signals section: prevalence per model among incorrect and correct, and the validation table."""

from __future__ import annotations

from db.engine import session_scope
from db.models import FinalLabel
from pipeline.report import build_report, render_markdown
from pipeline.report._signals import signals_section
from pipeline.signals import compute_study_signals
from tests.factories import add_medrbench_r1, make_study

N = 12


def test_section_says_how_when_nothing_is_computed(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        study = make_study(s, "rep")
        add_medrbench_r1(s, study, limit=2)
        section = signals_section(s, study.id, study.name)
        report = build_report(s, study.id, n_boot=20)
    assert not section.available and "python -m pipeline signals --study rep" in section.blocks[0].text
    assert "signals" not in [sec.id for sec in report.sections]  # optional: the report leaves it out


def test_section_tables_and_rendered_report(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        study = make_study(s, "rep")
        responses = add_medrbench_r1(s, study, limit=N)
        ids = [r.id for r in responses]
    compute_study_signals(sqlite_engine, "rep", signals=["gold_dropped", "repetition_loop"])
    with session_scope(sqlite_engine) as s:
        for rid in ids[:4]:
            s.add(
                FinalLabel(study_id=study.id, response_id=rid, error_modes=["priority_inversion"], method="unanimous")
            )
        section = signals_section(s, study.id, study.name, n_boot=50)
        report = build_report(s, study.id, n_boot=50)
    assert section.available
    prevalence = next(b for b in section.blocks if getattr(b, "id", None) == "signals-prevalence")
    rows = {(r[0], r[1]): r for r in prevalence.rows}
    row = rows[("Gold diagnosis considered, then dropped", "DeepSeek-R1")]
    incorrect, correct = row[2], row[3]
    assert correct.startswith("0/") and "%" in correct  # a correct answer never counts as "dropped"
    assert "/" in incorrect or incorrect == "–"
    validation = next(b for b in section.blocks if getattr(b, "id", None) == "signals-validation")
    assert all("not enough labels" in r[3] for r in validation.rows)  # four labels are too few
    md = render_markdown(report)
    assert "## Automatic error signals" in md and "not a label" in md
