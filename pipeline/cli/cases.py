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
    load_mapping,
    read_case_file,
    resolve_source,
    shipped_case_sets,
    summarise_case_sets,
)
from pipeline.cli import command
from pipeline.cli._common import add_map_argument, console, open_db, parse_field_map, print_table
from pipeline.errors import DxTraceError


@command("init", help="Create or upgrade the study database.", order=0)
def init(args: argparse.Namespace) -> int:
    engine = open_db(args)
    console.print(f"database ready: {redact(str(engine.url))}")
    return 0


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source",
        help="a .jsonl or .csv case file, a folder with one and its mapping.toml, or a shipped set: "
        + ", ".join(shipped_case_sets()),
    )
    p.add_argument("--name", help="case-set name (default: the mapping's, else the file name)")
    p.add_argument("--mapping", type=Path, help="mapping TOML (see data/cases/README.md)")
    add_map_argument(p, CANONICAL_FIELDS)
    p.add_argument("--task", choices=["differential", "multiple_choice"], help="task of the cases")
    p.add_argument("--update", action="store_true", help="overwrite cases whose content changed")


@command("import-cases", help="Import a case set from JSONL or CSV (all or nothing).", arguments=_import_args, order=10)
def import_cases_cmd(args: argparse.Namespace) -> int:
    path, shipped_mapping = resolve_source(args.source)
    mapping_path = args.mapping or shipped_mapping
    mapping = load_mapping(mapping_path) if mapping_path else CaseMapping()
    overrides = parse_field_map(args.map, CANONICAL_FIELDS)
    if overrides:
        mapping = mapping.with_fields(overrides)
    if args.task:
        mapping = replace(mapping, task=args.task)
    records = read_case_file(path, mapping)
    name = args.name or mapping.name or path.stem
    engine = open_db(args)
    with session_scope(engine) as session:
        report = import_cases(session, records, name=name, mapping=mapping, source=str(path), update=args.update)
    console.print(report.summary())
    return 0


def _cases_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--case-set", help="only this case set (default: every case set)")


@command("cases", help="Summarise case sets: counts by specialty x incidence.", arguments=_cases_args, order=11)
def cases_cmd(args: argparse.Namespace) -> int:
    engine = open_db(args)
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
