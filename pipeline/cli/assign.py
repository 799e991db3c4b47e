"""Subcommand: assign responses of a study to annotators; move or unassign items; give a newcomer a share.

The changes mid-study (--to, --unassign, --newcomer) print their preview; --dry-run stops there.
They share pipeline.annotation's preview_*/apply_* with the app's Assignment page.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from db.engine import session_scope
from pipeline.annotation import (
    NEWCOMER_MODES,
    ItemPick,
    Newcomer,
    Plan,
    Reassign,
    apply_newcomer,
    apply_reassign,
    assign,
    parse_id_list,
    preview_newcomer,
    preview_reassign,
    require_annotator,
    responses_with_trace,
)
from pipeline.cli import command
from pipeline.cli._common import add_study_argument, console, open_db, print_table
from pipeline.errors import InputError, Problem
from pipeline.studies import resolve_study


def _arguments(p: argparse.ArgumentParser) -> None:
    add_study_argument(p)
    p.add_argument("--annotators", help="comma-separated usernames to assign to, e.g. ada,bo,cy")
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
    mid = p.add_argument_group("changes mid-study (previewed; --dry-run shows the preview only)")
    change = mid.add_mutually_exclusive_group()
    change.add_argument("--to", metavar="USER", help="move the picked items (--from/--cases/--models/--ids) to USER")
    change.add_argument("--unassign", action="store_true", help="unassign the picked items")
    change.add_argument("--newcomer", metavar="USER", help="give USER a share of the study's items (see --mode)")
    mid.add_argument("--from", "--move-from", dest="from_", metavar="USERS", help="pick the items of these annotators")
    mid.add_argument("--cases", help="pick the items of these case keys (comma-separated)")
    mid.add_argument("--models", help="pick the items of these models (comma-separated)")
    mid.add_argument(
        "--keep-annotations",
        action="store_true",
        help="move or unassign labelled items too; their labels stay in the study under their author's name",
    )
    mid.add_argument(
        "--mode",
        choices=list(NEWCOMER_MODES),
        default="take",
        help="with --newcomer: take = a share of the others' items still to do; extra = an extra rating on items",
    )
    mid.add_argument("--count", type=int, help="with --newcomer: how many items (take: an even share when omitted)")
    mid.add_argument("--share", type=float, help="with --newcomer --mode extra: the share of the study's items, 0-1")
    mid.add_argument("--dry-run", action="store_true", help="show what would change and change nothing")


@command(
    "assign",
    help="Assign responses (by default the incorrect ones with a trace) to annotators; move or unassign items.",
    arguments=_arguments,
    order=41,
)
def assign_cmd(args: argparse.Namespace) -> int:
    if args.to or args.unassign or args.newcomer:
        return _change(args)
    if args.annotators is None:
        raise InputError(
            Problem("command line", None, "--annotators", "say who gets the items (or --to, --unassign, --newcomer)")
        )
    engine = open_db(args)
    ids = _ids(args)
    if args.include_answer_only and (ids is not None or args.all_traced):
        raise InputError(
            Problem("command line", None, "--include-answer-only", "only applies to the default choice (no --ids)")
        )
    usernames = _names(args.annotators)
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


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(u.strip() for u in (text or "").split(",") if u.strip())


def _ids(args: argparse.Namespace) -> list[int] | None:
    if args.ids is not None:
        return parse_id_list(args.ids, "--ids")
    if args.ids_file is None:
        return None
    try:
        text = args.ids_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(Problem(str(args.ids_file), None, None, f"cannot read: {exc.strerror}")) from None
    ids: list[int] = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            ids.extend(parse_id_list(line.split("#")[0]))
        except InputError as exc:
            raise InputError(Problem(str(args.ids_file), n, "response ids", exc.problems[0].message)) from None
    return ids


def _request(args: argparse.Namespace):
    """The change asked for, as the app's Assignment page would make it."""
    if args.annotators or args.all_traced or args.include_answer_only:
        flag = "--annotators" if args.annotators else "--all-traced" if args.all_traced else "--include-answer-only"
        raise InputError(
            Problem("command line", None, flag, "is for assigning new items, not with --to/--unassign/--newcomer")
        )
    if args.newcomer:
        if args.from_ or args.cases or args.models or args.ids or args.ids_file or args.keep_annotations:
            raise InputError(
                Problem(
                    "command line", None, "--newcomer", "chooses the items itself: no --from/--cases/--models/--ids"
                )
            )
        return Newcomer(args.newcomer, mode=args.mode, count=args.count, share=args.share, seed=args.seed)
    if args.count is not None or args.share is not None:
        raise InputError(Problem("command line", None, "--count", "--count and --share go with --newcomer"))
    ids = _ids(args) or []
    pick = ItemPick(_names(args.from_), tuple(ids), _names(args.cases), _names(args.models))
    return Reassign(pick, to=args.to, keep_annotations=args.keep_annotations, seed=args.seed)


def _print_plan(plan: Plan, name: str, applied: bool) -> None:
    console.print(f"study {name}: {'' if applied else 'would change: '}{plan.summary()}")
    rows = plan.load_rows()
    print_table(
        "Load per annotator",
        ["annotator", "assigned before", "assigned after", "to do before", "to do after"],
        [list(r.values()) for r in rows],
    )
    if plan.refused:
        reasons: dict[str, int] = {}
        for r in plan.refused:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
        for reason, n in reasons.items():
            console.print(f"refused {n} item(s): {reason}")


def _change(args: argparse.Namespace) -> int:
    request = _request(args)
    preview, apply = (preview_newcomer, apply_newcomer) if args.newcomer else (preview_reassign, apply_reassign)
    engine = open_db(args)
    with session_scope(engine) as s:
        study = resolve_study(s, args.study)
        plan = preview(s, study.id, request) if args.dry_run else apply(s, study.id, request)
    _print_plan(plan, study.name, applied=not args.dry_run)
    return 0
