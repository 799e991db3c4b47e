"""The qualitative error report: statistics, sections, degradation, escaping, offline HTML, Markdown, CLI."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from sqlmodel import select
from statsmodels.stats.proportion import proportion_confint

from db.engine import session_scope
from db.models import Annotation, Study
from pipeline.cli import main
from pipeline.report import (
    build_report,
    co_occurrence,
    combinations_count,
    pair_prevalence,
    prevalence,
    prevalence_frame,
    render_markdown,
    report_files,
    write_report,
)
from tests.factories import add_sandmann_outputs, make_study

SECTIONS = ("design", "methods", "flow", "accuracy", "prevalence", "agreement", "clusters", "exemplars")
ALWAYS = {"design", "methods"}  # written even for an empty study


def test_prevalence_statistics():
    p = prevalence(3, 10)
    lo, hi = proportion_confint(3, 10, alpha=0.05, method="wilson")
    assert (p.estimate, p.lower, p.upper) == (0.3, pytest.approx(lo), pytest.approx(hi))
    assert prevalence(0, 0).estimate is None and prevalence(0, 0).format() == "–"
    labels = pd.DataFrame(
        {
            "model": ["A", "A", "A", "B", "B"],
            "incidence": ["Rare", "Rare", "Frequent", "Rare", "Frequent"],
            "modes": [["drift", "red"], ["drift"], ["red"], ["inv"], ["drift", "red"]],
        }
    )
    codes = ["drift", "red", "inv"]
    frame = prevalence_frame(labels, codes, ["model"])
    row = frame[(frame["model"] == "A") & (frame["error_mode"] == "drift")].iloc[0]
    assert (row["k"], row["n"]) == (2, 3)
    matrix = co_occurrence(labels, codes)
    assert matrix.loc["drift", "red"] == 2 and matrix.loc["red", "drift"] == 2 and matrix.loc["red", "red"] == 3
    assert matrix.loc["inv", "drift"] == 0
    assert combinations_count(labels, codes)[0] == (("drift", "red"), 2)
    pair = {p.error_mode: p for p in pair_prevalence(labels, codes, "A", "B")}
    assert pair["drift"].difference == pytest.approx(2 / 3 - 1 / 2)
    assert pair["drift"].lower < pair["drift"].difference < pair["drift"].upper
    assert 0 < pair["inv"].p_value <= 1


def test_every_section_says_why_it_is_missing(sqlite_engine, tmp_path):
    with session_scope(sqlite_engine) as s:
        empty = make_study(s, "empty")
        answered = make_study(s, "answered")
        add_sandmann_outputs(s, answered, models=["GPT-4o"])
    with session_scope(sqlite_engine) as s:
        report = build_report(s, "empty", n_boot=50)
        assert [sec.id for sec in report.sections] == list(SECTIONS)
        for sid in SECTIONS:
            section = report.section(sid)
            assert section.available if sid in ALWAYS else (not section.available and section.reason), sid
        written = write_report(s, "answered", tmp_path / "r", n_boot=50, formats=["html", "md"])
    html_path, md_path = written
    assert [p.name for p in written] == ["report.html", "report.md"] and not (tmp_path / "r" / "paper").exists()
    html, md = html_path.read_text("utf-8"), md_path.read_text("utf-8")
    assert 'data-available="false"' in html
    assert "not available yet: no response of study &#39;answered&#39; is graded yet" in html
    assert "python -m pipeline grade --study answered" in html
    assert "**not available yet: no annotations yet" in md
    assert "**not available yet: the traces have not been clustered**" in md
    assert 'data-chart="chart-flow"' in html  # the flow of responses is drawn as soon as there are responses
    with session_scope(sqlite_engine) as s:
        empty_html = report_files(s, "empty", n_boot=50)["report.html"].decode("utf-8")
    assert "plotly" not in empty_html.lower()  # no charts, no 4 MB of plotly.js
    assert empty.id != answered.id


@pytest.mark.model
def test_full_report(clustered_study, tmp_path):
    with session_scope(clustered_study) as s:
        study = s.exec(select(Study)).one()
        html_path, md_path, paper = write_report(s, study.id, tmp_path / "out", n_boot=200)
        n_annotations = len(s.exec(select(Annotation)).all())
    html, md = html_path.read_text("utf-8"), md_path.read_text("utf-8")
    for sid in SECTIONS:
        assert f'id="{sid}" data-available="true"' in html, sid
    assert "not available yet" not in html
    # Accuracy with McNemar, overall and per subgroup; prevalence per model, pair, incidence and specialty.
    assert "Paired comparisons (McNemar, exact)" in md and "incidence: Rare" in md and "specialty: Neurology" in md
    assert "p (Holm)" in md and "Top-1" in md and "Accuracy by model and incidence" in md
    # The paper folder: the clusters' tables and charts too.
    assert paper.name == "paper" and list(paper.glob("clusters-*.tex")) and list(paper.glob("clusters-*.svg"))
    for heading in (
        "### Per model",
        "### Per pair",
        "### Per incidence",
        "### Per specialty",
        "### Modes occurring together",
    ):
        assert heading in md, heading
    assert "DeepSeek-R1 vs DeepSeek-V3" in md and "Fisher p" in md
    assert "Red-flag recognition failure" in md and "Krippendorff" in md
    assert f"{n_annotations} annotation(s)" in md
    # Exemplars: evidence steps marked, in both renderings.
    assert html.count('class="step evidence') >= 3 and "first error" in html
    assert "◆ **" in md
    # Charts are embedded, and nothing is fetched from elsewhere.
    for chart in ("chart-accuracy", "chart-prevalence", "chart-cooccurrence", "chart-agreement", "chart-cluster-map"):
        assert f'data-chart="{chart}' in html, chart  # accuracy charts are per case set: chart-accuracy-<set>
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:)?//""", html, re.I)
    assert "Content-Security-Policy" in html
    # Untrusted text (annotator rationales, model output) is escaped.
    assert "<b>drops</b>" not in html and "&lt;b&gt;drops&lt;/b&gt;" in html
    assert "<b>drops</b>" not in md and "\\<b\\>drops\\</b\\>" in md
    # No annotator is named.
    for name in ("dr.amsel", "dr.birke", "dr.ceder", "lead.dorn"):
        assert name not in html and name not in md


def test_markdown_escapes_model_output(sqlite_engine):
    from pipeline.report._model import Paragraph, Report, Section, Table

    report = Report(
        "s",
        "t",
        "now",
        "0",
        [
            Section(
                "x",
                "X",
                blocks=[Paragraph("<script>alert(1)</script> **bold** # head"), Table(["a|b"], [["1|2\nthree"]])],
            )
        ],
    )
    md = render_markdown(report)
    assert "<script>" not in md and "\\<script\\>" in md and "\\*\\*bold\\*\\*" in md
    assert "| a\\|b |" in md and "| 1\\|2 three |" in md


def test_report_files_and_cli(sqlite_engine, tmp_path, capsys):
    db = tmp_path / "cli.db"
    assert main(["--db", str(db), "init"]) == 0
    assert main(["--db", str(db), "report", "--out", str(tmp_path / "r")]) == 2
    assert "--study: name the study (studies: none yet)" in capsys.readouterr().err
    from db.engine import get_engine

    with session_scope(get_engine(str(db))) as s:
        study = make_study(s, "cli-study")
        add_sandmann_outputs(s, study, models=["GPT-4o"])
    assert main(["--db", str(db), "report", "--out", str(tmp_path / "r")]) == 0
    assert "report written" in capsys.readouterr().out
    assert (tmp_path / "r" / "report.html").exists() and (tmp_path / "r" / "report.md").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["--db", str(db), "report", "--out", str(blocker / "sub"), "--format", "md"]) == 2
    assert "error: cannot write the report into" in capsys.readouterr().err
    assert main(["--db", str(db), "report", "--study", "nope"]) == 2
    assert "no study 'nope'" in capsys.readouterr().err
    with session_scope(get_engine(str(db))) as s:
        files = report_files(s, "cli-study", n_boot=20)
    assert set(files) == {"report.html", "report.md"} and files["report.html"].startswith(b"<!DOCTYPE html>")
