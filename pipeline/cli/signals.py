"""Subcommands: signals (compute and store the automatic error signals), redflags (the red-flag list)."""

from __future__ import annotations

import argparse

from db.engine import session_scope
from pipeline.cli import command
from pipeline.cli._common import console, open_db, print_table
from pipeline.studies import resolve_study


def _k(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _signals_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--study", help="study name or id (default: the only study)")
    p.add_argument("--signal", action="append", metavar="NAME", help="only this signal (repeatable; default: all)")
    p.add_argument("--k", type=_k, default=5, help="the answer's first k diagnoses count (default: 5)")
    p.add_argument(
        "--red-flags-from",
        metavar="MODEL",
        help="use the red flags this study model extracted (redflags extract) instead of the red-flag list",
    )
    p.add_argument("--recompute", action="store_true", help="recompute even where the input is unchanged")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--validate", action="store_true", help="then show each signal against the final labels")


@command(
    "signals",
    help="Compute the automatic error signals of the study's traces (evidence for clinicians, not labels).",
    arguments=_signals_args,
    order=65,
)
def signals_cmd(args: argparse.Namespace) -> int:
    from pipeline.signals import compute_study_signals, signals_frame, study_validation, validation_rows

    engine = open_db(args)
    with session_scope(engine) as session:
        study = resolve_study(session, args.study)
    summary = compute_study_signals(
        engine,
        study.id,
        signals=args.signal,
        k=args.k,
        redflags_from=f"model:{args.red_flags_from}" if args.red_flags_from else None,
        progress=not args.no_progress,
        recompute=args.recompute,
    )
    console.print(f"{study.name}: {summary.summary()}")
    with session_scope(engine) as session:
        frame = signals_frame(session, study.id)
        rows = []
        for name, part in frame.groupby("signal", sort=False):
            decided = part["fired"].notna()
            rows.append([name, part["error_mode"].iloc[0], int(part["fired"].fillna(False).sum()), int(decided.sum())])
        print_table("Stored signals", ["signal", "error mode", "fired", "decided"], rows)
        if args.validate:
            table = validation_rows(study_validation(session, study.id))
            print_table("Signals against the final labels", list(table[0]) if table else ["signal"],
                        [list(r.values()) for r in table])  # fmt: skip
    return 0


def _redflags_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    load = sub.add_parser("load", help="load a red-flag list file as a new version (it becomes the active one)")
    load.add_argument("file", help="a TOML file like data/redflags/v1.toml")
    sub.add_parser("show", help="show the active red-flag list with the source of each entry")
    ext = sub.add_parser("extract", help="let a study model (OpenAI-compatible backend) extract each case's red flags")
    ext.add_argument("--study", help="study name or id (default: the only study)")
    ext.add_argument("--model", required=True, help="the study's model name")


@command("redflags", help="The versioned red-flag list: load a new version, show it, or extract by a model.",
         arguments=_redflags_args, order=66)  # fmt: skip
def redflags_cmd(args: argparse.Namespace) -> int:
    from pipeline.signals import active_redflags, from_row, load_redflags, read_redflags_file

    engine = open_db(args)
    if args.action == "load":
        flags = read_redflags_file(args.file)  # parsed whole before anything is written
        with session_scope(engine) as session:
            load_redflags(session, flags)
        console.print(f"red-flag list version {flags.version} loaded ({len(flags.flags)} entries); it is now active")
        return 0
    with session_scope(engine) as session:
        if args.action == "show":
            flags = from_row(active_redflags(session))
            print_table(f"Red-flag list version {flags.version}", ["id", "name", "terms", "source"],
                        [[f.id, f.name, "; ".join(f.terms), f.source] for f in flags.flags])  # fmt: skip
            return 0
        from pipeline.signals._extract import extract_study_redflags

        study = resolve_study(session, args.study)
        counts = extract_study_redflags(session, study.id, args.model)
    console.print(
        f"{study.name}: {counts['extracted']} case(s) extracted by {args.model} ({counts['flags']} red flag(s) quoted "
        f"from the case, {counts['rejected']} rejected), {counts['unchanged']} unchanged"
    )
    return 0
