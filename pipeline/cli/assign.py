"""Subcommand: assign responses of a study to annotators."""

from __future__ import annotations

import argparse
from pathlib import Path

from db.engine import session_scope
from pipeline.annotation import assign, parse_id_list, require_annotator, responses_with_trace
from pipeline.cli import command
from pipeline.cli._common import add_study_argument, console, open_db, print_table
from pipeline.errors import InputError, Problem
from pipeline.studies import resolve_study


def _arguments(p: argparse.ArgumentParser) -> None:
    add_study_argument(p)
    p.add_argument("--annotators", required=True, help="comma-separated usernames, e.g. ada,bo,cy")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--all-traced", action="store_true", help="every response with a trace (default: incorrect ones)"
    )
    which.add_argument("--ids", help="response ids: '12,15,20-30'")
    which.add_argument("--ids-file", type=Path, help="a file of response ids, one or more per line")
    p.add_argument(
        "--include-answer-only",
        action="store_true",
        help="with the default choice, also incorrect responses without a reasoning trace (left out by default)",
    )
    p.add_argument("--per-item", type=int, default=2, help="annotators per item (default 2)")
    p.add_argument("--extra-share", type=float, default=0.0, help="share of items given to more annotators, 0-1")
    p.add_argument("--extra-per-item", type=int, default=3, help="annotators for that share (default 3)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the choice and the orders")


@command(
    "assign",
    help="Assign responses (by default the incorrect ones with a trace) to annotators.",
    arguments=_arguments,
    order=41,
)
def assign_cmd(args: argparse.Namespace) -> int:
    engine = open_db(args)
    ids = None
    if args.ids is not None:
        ids = parse_id_list(args.ids, "--ids")
    elif args.ids_file is not None:
        try:
            text = args.ids_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(Problem(str(args.ids_file), None, None, f"cannot read: {exc.strerror}")) from None
        ids = []
        for n, line in enumerate(text.splitlines(), 1):
            try:
                ids.extend(parse_id_list(line.split("#")[0]))
            except InputError as exc:
                raise InputError(Problem(str(args.ids_file), n, "response ids", exc.problems[0].message)) from None
    if args.include_answer_only and (ids is not None or args.all_traced):
        raise InputError(
            Problem("command line", None, "--include-answer-only", "only applies to the default choice (no --ids)")
        )
    usernames = [u.strip() for u in args.annotators.split(",") if u.strip()]
    with session_scope(engine) as s:
        study = resolve_study(s, args.study)
        annotator_ids = [require_annotator(s, u).id for u in usernames]
        if args.all_traced:
            ids = responses_with_trace(s, study.id)
        report = assign(
            s,
            study.id,
            response_ids=ids,
            annotator_ids=annotator_ids,
            per_item=args.per_item,
            extra_share=args.extra_share,
            extra_per_item=args.extra_per_item,
            seed=args.seed,
            include_answer_only=args.include_answer_only,
        )
    console.print(f"study {study.name}: {report.summary()}")
    print_table(None, ["annotator", "new", "total"], [[n, report.added[n], report.load[n]] for n in report.load])
    return 0
