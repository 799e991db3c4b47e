"""Subcommands: study, generate, import-responses."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from sqlmodel import select

from db.engine import session_scope
from db.models import Model, Run, Study
from pipeline.cli import command
from pipeline.cli._common import (
    add_map_argument,
    add_progress_argument,
    console,
    err_console,
    open_db,
    parse_field_map,
    print_table,
    progress_bar,
)
from pipeline.errors import DxTraceError
from pipeline.generate import (
    RESPONSE_FIELDS,
    ResponseMapping,
    ensure_study,
    generate,
    import_responses,
    load_response_mapping,
    load_study_file,
    resolve_response_source,
    response_format_names,
    shipped_response_sets,
)
from pipeline.studies import resolve_study


def _study_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a study file (.toml), or a shipped study: demo, published")
    p.add_argument("--no-imports", action="store_true", help="do not import the responses the file lists")


@command(
    "study",
    help="Create or update a study from its study file (models, pairs, imports).",
    arguments=_study_args,
    order=20,
)
def study_cmd(args: argparse.Namespace) -> int:
    spec = load_study_file(args.file)
    engine = open_db(args)
    with session_scope(engine) as session:
        study = ensure_study(session, spec, imports=not args.no_imports)
        models = session.exec(select(Model).where(Model.study_id == study.id).order_by(Model.id)).all()
        names = {m.id: m.name for m in models}
        rows = []
        for m in models:
            n_runs = len(session.exec(select(Run.id).where(Run.model_id == m.id)).all())
            rows.append(
                [
                    m.name,
                    m.backend,
                    m.model_id or "",
                    "yes" if m.is_reasoning else "",
                    names.get(m.paired_model_id, ""),
                    n_runs,
                ]
            )
    print_table(
        f"study {spec.name!r}: {spec.case_set}, template {spec.template}, {spec.repeats} repeat(s)",
        ["Model", "Backend", "Model id", "Reasoning", "Paired with", "Runs"],
        rows,
    )
    return 0


def _generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--study",
        default=None,
        help="a study name in the database, a study file (.toml), or a shipped study: demo, published "
        "(default: the only study in the database)",
    )
    p.add_argument("--model", action="append", default=[], metavar="NAME", help="only this model (repeatable)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N cases of the study")
    p.add_argument("--concurrency", type=int, metavar="N", help="parallel requests (HTTP backends; default per model)")
    p.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="per-request timeout (default: the study file's, else 600)"
    )
    p.add_argument("--retries", type=int, metavar="N", help="retries with backoff on 429/5xx/timeouts (default 5)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


@command(
    "generate",
    help="Run the study's models on its cases; resumes where it stopped.",
    arguments=_generate_args,
    order=21,
)
def generate_cmd(args: argparse.Namespace) -> int:
    for flag in ("limit", "concurrency"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise DxTraceError(f"--{flag} must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise DxTraceError("--timeout must be positive")
    if args.retries is not None and args.retries < 0:
        raise DxTraceError("--retries must be 0 or more")
    engine = open_db(args)
    if args.study is None:
        with session_scope(engine) as session:
            args.study = resolve_study(session, None).name
    summary = generate(
        engine,
        args.study,
        models=args.model or None,
        limit=args.limit,
        concurrency=args.concurrency,
        timeout_s=args.timeout,
        max_retries=args.retries,
        progress=not args.no_progress,
        console=err_console,
    )
    if not summary.models:
        console.print(
            f"study {summary.study!r} has no models to run (imported models are loaded with import-responses)"
        )
        return 0
    print_table(
        f"study {summary.study!r}",
        ["Model", "Backend", "Done", "New", "Failed", "Parse failures", "Tokens/s"],
        summary.rows(),
    )
    if summary.failed:
        err_console.print(
            f"{summary.failed} request(s) failed; their errors are recorded on the responses. Run the same command again to retry them."
        )
        for cause in summary.first_errors():
            err_console.print(f"  {cause}", soft_wrap=True, markup=False)
        return 1
    return 0


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source",
        help="a response file (.jsonl, .json, .csv, .tsv, .parquet; an Inspect AI log .eval/.json; an OpenAI "
        "Batch output .jsonl), a folder with one and its mapping.toml, or a shipped set: "
        + ", ".join(shipped_response_sets()),
    )
    p.add_argument(
        "--study", default=None, help="the study to add the responses to, created if missing (default: the only study)"
    )
    add_progress_argument(p)
    p.add_argument("--mapping", type=Path, help="mapping TOML (see docs/generation.md)")
    add_map_argument(p, RESPONSE_FIELDS)
    p.add_argument("--model", help="the model's name, when the file has no model column")
    p.add_argument("--case-set", help="the case set the case ids refer to (default: the mapping's)")
    p.add_argument(
        "--format",
        choices=["auto", *response_format_names()],
        help="the file's kind (default auto: Inspect AI logs and OpenAI Batch output are recognised)",
    )


@command(
    "import-responses", help="Import responses produced elsewhere (all or nothing).", arguments=_import_args, order=22
)
def import_responses_cmd(args: argparse.Namespace) -> int:
    path, shipped_mapping = resolve_response_source(args.source)
    mapping_path = args.mapping or shipped_mapping
    mapping = load_response_mapping(mapping_path) if mapping_path else ResponseMapping(source="--map")
    overrides = parse_field_map(args.map, RESPONSE_FIELDS)
    if overrides:
        mapping = mapping.with_fields(overrides)
    if args.model:
        mapping = replace(mapping, model=args.model)
    if args.format:
        mapping = replace(mapping, format=args.format)
    engine = open_db(args)
    with session_scope(engine) as session, progress_bar(args, "importing responses"):
        if args.study is None:
            args.study = resolve_study(session, None).name
        study = session.exec(select(Study).where(Study.name == args.study)).first()
        if study is None:
            study = Study(name=args.study)
            session.add(study)
            session.flush()
        report = import_responses(session, study=study, path=path, mapping=mapping, case_set=args.case_set)
    console.print(report.summary(), soft_wrap=True)
    if report.by_model:
        rows = [[name, n] for name, n in sorted(report.by_model.items())]
        print_table(None, ["Model", "Responses added"], rows)
    if report.diagnoses_found:
        found = ", ".join(f"{n} diagnoses: {c}" for n, c in sorted(report.diagnoses_found.items(), reverse=True))
        console.print(f"parsed: {found}", soft_wrap=True)
    return 0
