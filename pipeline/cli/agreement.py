"""Subcommands: agreement (on the study database or a CSV of ratings) and adjudicate (final labels)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from db.engine import session_scope
from pipeline.agreement import (
    DEFAULT_MIN_ITEMS,
    DEFAULT_N_BOOT,
    STATISTIC_TITLES,
    AgreementReport,
    adjudicate,
    agreement_report,
    compute_agreement,
    disagreements,
    final_labels_frame,
    read_ratings_csv,
    settle_final_labels,
)
from pipeline.agreement._report import analytic_text
from pipeline.annotation import require_annotator
from pipeline.cli import command
from pipeline.cli._common import add_progress_argument, add_study_argument, console, open_db, print_table, progress_bar
from pipeline.errors import DxTraceError
from pipeline.intervals import estimate_interval, interval
from pipeline.studies import resolve_study


def _agreement_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--study", help="study name or id: its annotations (default: the only study in the database)")
    src.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="a CSV of ratings, one row per (item, rater, label); optional columns case, first_error_step",
    )
    p.add_argument("--boot", type=int, default=DEFAULT_N_BOOT, help=f"bootstrap resamples (default {DEFAULT_N_BOOT})")
    p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap (default 0)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals (default 0.95)")
    p.add_argument(
        "--min-items",
        type=int,
        default=DEFAULT_MIN_ITEMS,
        help=f"fewest items with two ratings for a figure to be reported (default {DEFAULT_MIN_ITEMS})",
    )
    p.add_argument(
        "--real-names",
        action="store_true",
        help="show annotators' usernames instead of pseudonyms A, B, C... (study only; for internal use)",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="write every figure as JSON")
    p.add_argument("--out-csv", type=Path, metavar="PATH", help="write every figure as a tidy CSV table")
    p.add_argument("--markdown", type=Path, metavar="PATH", help="write the tables as Markdown")
    p.add_argument(
        "--analytic",
        action="store_true",
        help="also show analytic SE, z, p and asymptotic intervals of every figure (always in --json/--out-csv)",
    )
    p.add_argument("--quiet", action="store_true", help="no tables on screen")
    add_progress_argument(p)


def _check(args: argparse.Namespace) -> None:
    if args.boot < 0:
        raise DxTraceError(f"--boot {args.boot}: must be 0 (no intervals) or more")
    if not 0 < args.level < 1:
        raise DxTraceError(f"--level {args.level}: must be between 0 and 1, e.g. 0.95")
    if args.min_items < 2:
        raise DxTraceError(f"--min-items {args.min_items}: must be at least 2")


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)  # never a half-written file
    except OSError as exc:
        raise DxTraceError(f"cannot write {path}: {exc.strerror}") from None
    console.print(f"wrote {path}")


def _cell(e, ci: bool = True) -> str:
    if e is None:
        return ""
    if e.value is None:
        return "—"  # undefined: the reason is printed below the tables
    if ci and e.ci_low is not None:
        return estimate_interval(e.value, e.ci_low, e.ci_high)
    return f"{e.value:.2f}"


def show_analytic(report: AgreementReport) -> None:
    frame = analytic_text(report.analytic_frame())
    pct = round(report.level * 100)
    print_table(
        f"Analytic figures: SE, z, p (H0: no agreement beyond chance), {pct}% asymptotic CI "
        "(Gwet 2014 / irrCAC; Cohen's κ as SAS PROC FREQ)",
        list(frame.columns),
        frame.values.tolist(),
    )


def show_report(report: AgreementReport, analytic: bool = False) -> None:
    pct = round(report.level * 100)
    rows = []
    for v in report.variables:
        head = {"label_set": "alpha_masi", "first_error_step": "alpha_interval"}.get(v.scope, "alpha")
        rows.append(
            [
                v.label,
                "" if v.prevalence is None else f"{v.prevalence:.2f}",
                v.n_items,
                v.n_ratings,
                _cell(v.estimates.get(head)),
                _cell(v.estimates.get("gwet_ac1")),
                _cell(v.estimates.get("percent_agreement"), ci=False),
                _cell(v.estimates.get("fleiss_kappa"), ci=False),
            ]
        )
    print_table(
        f"Agreement: {report.source}: {len(report.raters)} raters, {report.n_items} items, {report.n_cases} cases, "
        f"{report.n_ratings} ratings; ({pct}% CI) from {report.n_boot} case resamples",
        ["variable", "prev.", "items", "ratings", "α (CI)", "AC1 (CI)", "% agree", "Fleiss κ"],
        rows,
    )
    pf = report.pairwise_frame()
    if len(pf):
        rows = []
        for r in pf.itertuples():
            kappa = "undefined" if r.cohen_kappa is None or r.cohen_kappa != r.cohen_kappa else f"{r.cohen_kappa:.2f}"
            if kappa != "undefined" and r.ci_low == r.ci_low and r.ci_low is not None:
                kappa += " " + interval(r.ci_low, r.ci_high)
            rows.append([r.variable, r.rater_a, r.rater_b, r.items, kappa, r.percent_agreement_text])
        print_table("Cohen's κ per pair of raters", ["variable", "rater A", "rater B", "items", "κ", "% agree"], rows)
    if analytic:
        show_analytic(report)
    for label, stat, reason in report.undefined():
        console.print(f"[dim]{label}, {STATISTIC_TITLES.get(stat, stat)}: undefined — {reason}[/dim]")
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")


@command(
    "agreement",
    help="Inter-rater agreement per error mode with bootstrap intervals, on a study or a CSV of ratings.",
    arguments=_agreement_args,
    order=60,
)
def agreement_cmd(args: argparse.Namespace) -> int:
    _check(args)
    kw = dict(n_boot=args.boot, seed=args.seed, level=args.level, min_items=args.min_items)
    if args.csv is not None:
        report = compute_agreement(read_ratings_csv(args.csv), **kw)
    else:
        engine = open_db(args)
        with session_scope(engine) as s:
            study = resolve_study(s, args.study)
            with progress_bar(args, f"agreement: {args.boot} bootstrap resamples"):
                report = agreement_report(s, study.id, pseudonymise=not args.real_names, **kw)
    if report.n_ratings == 0:
        raise DxTraceError(f"{report.source}: no annotations yet; nothing to compare")
    if not args.quiet:
        show_report(report, analytic=args.analytic)
    if args.json:
        _write(args.json, json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    if args.out_csv:
        _write(args.out_csv, report.to_frame().to_csv(index=False))
    if args.markdown:
        _write(args.markdown, report.to_markdown())
    return 0


def _adjudicate_args(p: argparse.ArgumentParser) -> None:
    add_study_argument(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--settle", action="store_true", help="write final labels where annotators agree (unanimous or majority)"
    )
    what.add_argument("--list", action="store_true", help="list the responses waiting for adjudication")
    what.add_argument("--response", type=int, metavar="ID", help="set the final labels of this response")
    what.add_argument("--export", type=Path, metavar="PATH", help="write every final label as CSV")
    p.add_argument("--labels", help="with --response: comma-separated error modes, or no_error")
    p.add_argument("--step", type=int, help="with --response: the first erroneous step")
    p.add_argument("--rationale", help="with --response: why")
    p.add_argument("--as", dest="lead", metavar="USERNAME", help="with --response: the lead who decides")


@command(
    "adjudicate",
    help="Final labels: settle agreements, list disagreements, set a response's labels as a lead.",
    arguments=_adjudicate_args,
    order=61,
)
def adjudicate_cmd(args: argparse.Namespace) -> int:
    if args.response is not None and (not args.labels or not args.lead):
        raise DxTraceError("--response needs --labels (e.g. reasoning_drift,red_flag_failure or no_error) and --as")
    engine = open_db(args)
    with session_scope(engine) as s:
        study = resolve_study(s, args.study)
        if args.settle:
            console.print(settle_final_labels(s, study.id).summary())
        elif args.list:
            queue = disagreements(s, study.id)
            rows = [
                [
                    d.response_id,
                    d.case_key,
                    len(d.raters),
                    "; ".join(f"{r.alias}: {', '.join(r.error_modes)}" for r in d.raters),
                    d.decision.note,
                ]
                for d in queue
            ]
            print_table(
                f"{len(queue)} response(s) waiting for adjudication in {study.name}",
                ["response", "case", "ratings", "labels", "why"],
                rows,
            )
        elif args.export is not None:
            _write(args.export, final_labels_frame(s, study.id).to_csv(index=False))
        else:
            lead = require_annotator(s, args.lead)
            labels = [x.strip() for x in args.labels.split(",") if x.strip()]
            final = adjudicate(
                s,
                study_id=study.id,
                response_id=args.response,
                adjudicator_id=lead.id,
                error_modes=labels,
                first_error_step=args.step,
                rationale=args.rationale,
            )
            console.print(
                f"response {final.response_id}: {', '.join(final.error_modes)}"
                + (f", first error at step {final.first_error_step}" if final.first_error_step else "")
                + f" (adjudicated by {lead.username})"
            )
    return 0
