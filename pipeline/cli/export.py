"""Subcommands: export, import-export, report."""

from __future__ import annotations

import argparse
from pathlib import Path

from db.engine import session_scope
from pipeline.cli import command
from pipeline.cli._common import (
    add_format_argument,
    add_progress_argument,
    console,
    err_console,
    open_db,
    progress_bar,
)
from pipeline.errors import DxTraceError
from pipeline.studies import resolve_study

REPORT_FORMATS = ("html", "md", "paper")  # paper: the tables as CSV and LaTeX, the figures as SVG and PNG


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _export_args(p: argparse.ArgumentParser) -> None:
    from pipeline.export import ADJUDICATION, CORRECTNESS, DEFAULT_FORMATS, FORMATS

    p.add_argument("--study", help="study name or id (default: the only study)")
    p.add_argument("--out", type=Path, help="export folder (default: exports/<study>)")
    add_format_argument(p, FORMATS, default=DEFAULT_FORMATS)
    p.add_argument("--model", action="append", default=[], help="only this model (repeatable)")
    p.add_argument("--case-set", action="append", default=[], help="only this case set (repeatable)")
    p.add_argument(
        "--correctness",
        type=_csv,
        default=[],
        help=f"only responses graded so, comma-separated: {', '.join(CORRECTNESS)}",
    )
    p.add_argument(
        "--adjudication",
        type=_csv,
        default=[],
        help=f"only responses whose final label is, comma-separated: {', '.join(ADJUDICATION)}, settled",
    )
    p.add_argument("--annotated", action="store_true", help="only responses with at least one annotation")
    p.add_argument(
        "--real-names",
        action="store_true",
        help="write annotators' usernames instead of pseudonyms A1, A2, ... (only for internal backups)",
    )
    add_progress_argument(p)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


@command(
    "export",
    help="Export labelled responses: JSONL, CSV and Parquet (docs/export-format.md).",
    arguments=_export_args,
    order=80,
)
def export_cmd(args: argparse.Namespace) -> int:
    from pipeline.export import export_study

    engine = open_db(args)
    with session_scope(engine) as session:
        study = resolve_study(session, args.study)
        out = args.out or Path("exports") / _safe_name(study.name)
        with progress_bar(args, "exporting"):
            summary = export_study(
                session,
                study.id,
                out,
                formats=args.formats,
                models=args.model,
                case_sets=args.case_set,
                correctness=args.correctness,
                adjudication=args.adjudication,
                annotated_only=args.annotated,
                pseudonymise=not args.real_names,
            )
    console.print(summary.summary())
    return 0


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="an export folder, its study.json or responses.jsonl, or a zip of it")
    p.add_argument("--as", dest="study_name", metavar="NAME", help="import under this study name")


@command(
    "import-export", help="Import an export into this database (all or nothing).", arguments=_import_args, order=81
)
def import_cmd(args: argparse.Namespace) -> int:
    from pipeline.export import import_export

    engine = open_db(args)  # import_export validates the whole export before it writes anything
    with session_scope(engine) as session:
        summary = import_export(session, args.path, study_name=args.study_name)
    console.print(summary.summary())
    return 0


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--study", help="study name or id (default: the only study)")
    p.add_argument("--out", type=Path, help="folder for report.html and report.md (default: reports/<study>)")
    p.add_argument("--exemplars", type=int, default=3, help="exemplar excerpts per error mode (default: 3)")
    add_format_argument(p, REPORT_FORMATS)
    add_progress_argument(p)


@command(
    "report",
    help="Write the qualitative error report: one offline HTML file and Markdown.",
    arguments=_report_args,
    order=82,
)
def report_cmd(args: argparse.Namespace) -> int:
    from pipeline.report import write_report

    if args.exemplars < 0:
        raise DxTraceError("--exemplars must be 0 or more")
    engine = open_db(args)
    with session_scope(engine) as session:
        study = resolve_study(session, args.study)
        out = args.out or Path("reports") / _safe_name(study.name)
        with progress_bar(args, "report", total=None) as bar:
            written = write_report(
                session,
                study.id,
                out,
                exemplars=args.exemplars,
                formats=args.formats,
                on_step=bar.step,
                warn=lambda w: err_console.print(f"warning: {w}"),
            )
    console.print("report written: " + ", ".join(str(p) for p in written))
    return 0
