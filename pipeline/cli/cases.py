"""Subcommands: init, import-cases, cases."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from db.engine import redact, session_scope
from pipeline.cases import (
    CANONICAL_FIELDS,
    CaseMapping,
    import_cases,
    import_target,
    load_mapping,
    read_case_file,
    resolve_source,
    shipped_case_sets,
    show_case,
    summarise_case_sets,
    vignette_warnings,
)
from pipeline.cli import command
from pipeline.cli._common import add_map_argument, console, err_console, open_db, parse_field_map, print_table
from pipeline.errors import DxTraceError


@command("init", help="Create or upgrade the study database.", order=0)
def init(args: argparse.Namespace) -> int:
    engine = open_db(args)
    console.print(f"database ready: {redact(str(engine.url))}")
    return 0


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source",
        help="a case file (.jsonl, .json, .csv, .tsv, .parquet), a folder with one and its mapping.toml, "
        "or a shipped set: " + ", ".join(shipped_case_sets()),
    )
    p.add_argument("--name", help="case-set name (default: the mapping's own, else the file name)")
    p.add_argument("--mapping", type=Path, help="mapping TOML (see data/cases/README.md)")
    add_map_argument(p, CANONICAL_FIELDS)
    p.add_argument("--task", choices=["differential", "multiple_choice"], help="task of the cases")
    p.add_argument("--description", help="what the set is (a borrowed mapping's own is not used)")
    p.add_argument("--attribution", help="whom to credit for the cases")
    p.add_argument("--licence", help="the cases' licence")
    p.add_argument("--update", action="store_true", help="overwrite cases whose content changed")


@command(
    "import-cases",
    help="Import a case set from JSONL, JSON, CSV/TSV or Parquet (all or nothing).",
    arguments=_import_args,
    order=10,
)
def import_cases_cmd(args: argparse.Namespace) -> int:
    path, shipped_mapping = resolve_source(args.source)
    mapping_path = args.mapping or shipped_mapping
    mapping = load_mapping(mapping_path) if mapping_path else CaseMapping()
    overrides = parse_field_map(args.map, CANONICAL_FIELDS)
    if overrides:
        mapping = mapping.with_fields(overrides)
    if args.task:
        mapping = replace(mapping, task=args.task)
    name, mapping = import_target(
        path,
        mapping,
        mapping_path=mapping_path,
        name=args.name,
        description=args.description,
        attribution=args.attribution,
        licence=args.licence,
    )
    records = read_case_file(path, mapping)
    engine = open_db(args)
    with session_scope(engine) as session:
        report = import_cases(session, records, name=name, mapping=mapping, source=str(path), update=args.update)
        stale = _stale_message(session, report.updated, name) if report.updated else None
    console.print(report.summary(), soft_wrap=True, markup=False)
    if stale:
        console.print(stale, soft_wrap=True, markup=False)
    warnings = vignette_warnings(records, str(path), mapping.max_vignette_chars)
    for problem in warnings[:_SHOWN]:
        err_console.print(f"warning: {problem}", soft_wrap=True, markup=False)
    if len(warnings) > _SHOWN:
        err_console.print(f"warning: ... and {len(warnings) - _SHOWN} more", markup=False)
    return 0


_SHOWN = 10


def _stale_message(session, case_keys: list[str], case_set: str) -> str | None:
    """A changed gold makes the grades of its responses stale: say so."""
    from pipeline.accuracy import stale_grades

    return stale_grades(session, case_keys, case_set).message()


def _cases_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--case-set", help="only this case set (default: every case set)")
    p.add_argument(
        "--show", metavar="CASE_ID", help="show one case in full (its set with --case-set if several have it)"
    )


@command(
    "cases",
    help="Summarise case sets (counts by specialty x incidence), or show one case.",
    arguments=_cases_args,
    order=11,
)
def cases_cmd(args: argparse.Namespace) -> int:
    engine = open_db(args)
    if args.show:
        with session_scope(engine) as session:
            fields = show_case(session, args.show, args.case_set)
        for label, value in fields:
            console.print(f"{label}:", style="bold", markup=False, end=" " if "\n" not in value else "\n")
            console.print(value, markup=False, highlight=False, soft_wrap=True)
        return 0
    with session_scope(engine) as session:
        summaries = summarise_case_sets(session, args.case_set)
    if not summaries:
        what = f"case set {args.case_set!r}" if args.case_set else "case sets"
        raise DxTraceError(f"no {what} in the database; import one with: python -m pipeline import-cases sandmann125")
    for s in summaries:
        incidences = s.incidences()
        rows = [[spec, *[s.total(spec, inc) for inc in incidences], s.total(spec)] for spec in s.specialties()]
        rows.append(["Total", *[s.total(incidence=inc) for inc in incidences], s.n_cases])
        print_table(f"{s.name} ({s.task}, {s.n_cases} cases)", ["Specialty", *incidences, "Total"], rows)
    return 0
