"""The qualitative error report of a study: one self-contained offline HTML file and a Markdown version.

Sections: study design; accuracy with McNemar per pair, overall and per incidence and specialty;
error-mode prevalence per model, pair, incidence and specialty with Wilson intervals and co-occurrence;
agreement per error mode; clusters; exemplar excerpts per error mode with the evidence steps marked.
A section whose data is missing says "not available yet" and why.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlmodel import Session

from pipeline.errors import DxTraceError
from pipeline.report._build import build_report
from pipeline.report._model import Chart, Exemplar, ExemplarStep, Gap, Heading, Paragraph, Report, Section, Table
from pipeline.report._prevalence import (
    PairPrevalence,
    Prevalence,
    co_occurrence,
    combinations_count,
    pair_prevalence,
    prevalence,
    prevalence_frame,
)
from pipeline.report._render import render_html, render_markdown

HTML_NAME = "report.html"
MD_NAME = "report.md"


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(
    session: Session,
    study_id: int | str,
    out_dir: Path | str,
    *,
    exemplars: int = 3,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write report.html (self-contained, opens offline) and report.md into out_dir; return their paths."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DxTraceError(f"{out_dir}: exists and is not a folder")
    report = build_report(session, study_id, exemplars=exemplars, n_boot=n_boot, seed=seed)
    html, md = render_html(report), render_markdown(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, md_path = out_dir / HTML_NAME, out_dir / MD_NAME
    _write_atomically(html_path, html)
    _write_atomically(md_path, md)
    return html_path, md_path


def report_files(session: Session, study_id: int | str, **options) -> dict[str, bytes]:
    """The report as {file name: bytes}, for a download button; nothing is written to disk."""
    report = build_report(session, study_id, **options)
    return {HTML_NAME: render_html(report).encode("utf-8"), MD_NAME: render_markdown(report).encode("utf-8")}


__all__ = [
    "HTML_NAME",
    "MD_NAME",
    "Chart",
    "Exemplar",
    "ExemplarStep",
    "Gap",
    "Heading",
    "PairPrevalence",
    "Paragraph",
    "Prevalence",
    "Report",
    "Section",
    "Table",
    "build_report",
    "co_occurrence",
    "combinations_count",
    "pair_prevalence",
    "prevalence",
    "prevalence_frame",
    "render_html",
    "render_markdown",
    "report_files",
    "write_report",
]
