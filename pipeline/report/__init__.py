"""The qualitative error report of a study: one self-contained offline HTML file and a Markdown version.

Sections: study design; a methods paragraph generated from the study; the flow of responses per model
(responses -> graded -> incorrect -> with a trace -> labelled -> settled); accuracy (top-k with pending
grades counted each way, top-1 and the rank of the correct diagnosis, a model x subgroup matrix, McNemar
per pair with uncorrected and Holm-adjusted p-values, a grouped forest plot); error-mode prevalence as a
share of each model's settled incorrect responses, per pair, incidence and specialty, with co-occurrence;
agreement per error mode; clusters; exemplar excerpts per error mode with the evidence steps marked.
Every error-mode figure counts one settled set (incorrect responses with a final label) and says so.
A section whose data is missing says "not available yet" and why. The paper/ folder holds every table
as CSV and LaTeX (booktabs) and every figure as SVG and PNG.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlmodel import Session

from pipeline.errors import DxTraceError
from pipeline.report._build import build_report
from pipeline.report._flow import FLOW_STEPS, flow_counts
from pipeline.report._model import Chart, Exemplar, ExemplarStep, Gap, Heading, Paragraph, Report, Section, Table
from pipeline.report._paper import latex_escape, methods_text, paper_files, table_csv, table_latex
from pipeline.report._prevalence import (
    PairPrevalence,
    Prevalence,
    co_occurrence,
    combinations_count,
    pair_prevalence,
    prevalence,
    prevalence_frame,
)
from pipeline.report._ranks import RankSummary, rank_summaries
from pipeline.report._render import render_html, render_markdown

HTML_NAME = "report.html"
MD_NAME = "report.md"
PAPER_NAME = "paper"
FORMATS = ("html", "md", "paper")  # paper: every table as CSV and LaTeX, every figure as SVG and PNG


def _write_atomically(path: Path, data: str | bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _replace_folder(folder: Path, files: dict[str, bytes]) -> None:
    """Write files into a fresh folder, then swap it in: never a half-written paper folder."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            folder.rename(old)
        tmp.rename(folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_report(
    session: Session,
    study_id: int | str,
    out_dir: Path | str,
    *,
    exemplars: int = 3,
    n_boot: int = 2000,
    seed: int = 0,
    formats: Sequence[str] = FORMATS,
    on_step: Callable[[int, int, str], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write report.html (self-contained, opens offline), report.md and the paper/ folder into out_dir.

    formats: any of html, md, paper. on_step(done, total, what) reports progress. Returns the paths written.
    Warnings (e.g. figures that could not be drawn) go to warn() and into paper/README.md.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise DxTraceError(
            f"unknown report format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}"
        )
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DxTraceError(f"{out_dir}: exists and is not a folder")
    steps = 8 + (1 if "paper" in formats else 0)

    def step(done: int, total: int, what: str) -> None:
        if on_step:
            on_step(done, steps, what)

    report = build_report(session, study_id, exemplars=exemplars, n_boot=n_boot, seed=seed, on_step=step)
    step(8, steps, "report: rendering")
    texts: dict[str, str] = {}
    if "html" in formats:
        texts[HTML_NAME] = render_html(report)
    if "md" in formats:
        texts[MD_NAME] = render_markdown(report)
    paper = None
    if "paper" in formats:
        step(8, steps, "report: paper tables and figures")
        paper = paper_files(
            report, methods_text(report), on_chart=lambda i, n: step(8, steps, f"report: figure {i + 1} of {n}")
        )
    written = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            _write_atomically(out_dir / name, text)
            written.append(out_dir / name)
        if paper is not None:
            _replace_folder(out_dir / PAPER_NAME, paper.files)
            written.append(out_dir / PAPER_NAME)
    except OSError as exc:
        raise DxTraceError(f"cannot write the report into {out_dir}: {exc.strerror or exc}") from None
        for warning in paper.warnings:
            if warn:
                warn(warning)
    if on_step:
        on_step(steps, steps, "report: done")
    return written


def report_files(session: Session, study_id: int | str, **options) -> dict[str, bytes]:
    """The report as {file name: bytes}, for a download button; nothing is written to disk."""
    report = build_report(session, study_id, **options)
    return {HTML_NAME: render_html(report).encode("utf-8"), MD_NAME: render_markdown(report).encode("utf-8")}


__all__ = [
    "FLOW_STEPS",
    "FORMATS",
    "HTML_NAME",
    "MD_NAME",
    "PAPER_NAME",
    "RankSummary",
    "flow_counts",
    "latex_escape",
    "methods_text",
    "paper_files",
    "rank_summaries",
    "table_csv",
    "table_latex",
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
