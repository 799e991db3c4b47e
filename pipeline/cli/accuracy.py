"""Subcommands: grade, accuracy."""

from __future__ import annotations

import argparse
from pathlib import Path

from db.engine import session_scope
from pipeline.accuracy import (
    CI_METHODS,
    CORRECTIONS,
    DIFFERENCE_METHODS,
    FORMATS,
    MCNEMAR_METHODS,
    PENDING_POLICIES,
    AccuracyReport,
    GradeCache,
    GradingSummary,
    Thresholds,
    accuracy_report,
    grade_check,
    grade_study,
    read_results_csv,
    study_accuracy,
    study_accuracy_by_case_set,
    study_case_sets,
)
from pipeline.cli import command
from pipeline.cli._common import (
    add_format_argument,
    add_progress_argument,
    add_study_argument,
    console,
    open_db,
    print_table,
    track,
)
from pipeline.errors import DxTraceError
from pipeline.studies import resolve_study

# Grades committed per transaction: a killed run keeps every finished batch, the next run does the rest.
GRADE_BATCH = 1000


def _model_names(session, study_id: int) -> list[str]:
    from sqlmodel import select

    from db.models import Model

    return sorted(session.exec(select(Model.name).where(Model.study_id == study_id)).all())


def _merge(total, part):
    """Two models' grading summaries as one."""
    for name in ("graded", "correct", "incorrect", "pending", "skipped", "no_response"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.by_method.update(part.by_method)
    for model, counts in part.by_model.items():
        total.by_model[model].update(counts)
    return total


def _grade_args(p: argparse.ArgumentParser) -> None:
    add_study_argument(p)
    p.add_argument(
        "-k", type=int, default=5, help="count a response correct if the gold is among its first k (default 5)"
    )
    p.add_argument("--model", action="append", default=[], help="only this model (repeatable)")
    p.add_argument("--regrade", action="store_true", help="replace earlier automatic and pending grades")
    p.add_argument("--no-embeddings", action="store_true", help="no MiniLM similarity tier")
    p.add_argument("--no-terminology", action="store_true", help="no ICD-10-CM synonym tier")
    p.add_argument("--no-judge", action="store_true", help="skip the study's LLM-judge tier ([grading.judge])")
    th = Thresholds()
    p.add_argument("--fuzzy-confident", type=float, default=th.fuzzy_confident, metavar="S",
                   help="fuzzy string score at or above which a match counts as correct")  # fmt: skip
    p.add_argument("--fuzzy-uncertain", type=float, default=th.fuzzy_uncertain, metavar="S",
                   help="fuzzy score at or above which a match waits for a clinician")  # fmt: skip
    p.add_argument("--embedding-confident", type=float, default=th.embedding_confident, metavar="S",
                   help="embedding cosine at or above which a match counts as correct")  # fmt: skip
    p.add_argument("--embedding-uncertain", type=float, default=th.embedding_uncertain, metavar="S",
                   help="embedding cosine at or above which a match waits for a clinician")  # fmt: skip
    p.add_argument(
        "--batch-size", type=int, default=GRADE_BATCH, metavar="N",
        help="grades committed per transaction: a run stopped midway keeps its finished batches",
    )  # fmt: skip
    add_progress_argument(p)


@command("grade", help="Grade responses: is the gold diagnosis among the first k? (uncertain ones wait for a clinician)", arguments=_grade_args, order=40)  # fmt: skip
def grade_cmd(args: argparse.Namespace) -> int:
    try:
        thresholds = Thresholds(
            args.fuzzy_confident, args.fuzzy_uncertain, args.embedding_confident, args.embedding_uncertain
        )
    except ValueError as exc:
        raise DxTraceError(f"thresholds: {exc}") from None
    if args.batch_size < 1:
        raise DxTraceError(f"--batch-size must be at least 1, got {args.batch_size}")
    engine = open_db(args)
    with session_scope(engine) as session:
        study = resolve_study(session, args.study)
        # One model at a time, so that the bar can move on a long grading run.
        models = args.model or _model_names(session, study.id)
        summary = None
        cache = GradeCache()  # one per run: each distinct name is matched and encoded once
        for model in track(args, models, "grading"):
            part = grade_study(
                session,
                study.id,
                k=args.k,
                thresholds=thresholds,
                embeddings=not args.no_embeddings,
                regrade=args.regrade,
                models=[model],
                terminology=not args.no_terminology,
                judge=False if args.no_judge else None,
                batch_size=args.batch_size,
                cache=cache,
            )
            summary = part if summary is None else _merge(summary, part)
        if summary is None:
            summary = GradingSummary(study.id, args.k)  # a study without models: nothing to grade
        name = study.name
    rows = [
        [m, c["correct"], c["incorrect"], c["pending"], sum(c.values())] for m, c in sorted(summary.by_model.items())
    ]
    if rows:
        print_table(f"grades written in study {name}", ["Model", "Correct", "Incorrect", "Pending", "Graded"], rows)
    console.print(summary.summary())
    if summary.pending:
        console.print("pending grades are settled by a clinician in the annotation app (grading view)")
    return 0


def _check_args(p: argparse.ArgumentParser) -> None:
    add_study_argument(p)
    p.add_argument("--reference", required=True, metavar="COLUMN",
                   help="the reference label: an imported grader (e.g. imported), clinician, or extra.FIELD")  # fmt: skip
    p.add_argument("--threshold", type=float, default=None,
                   help="a numeric reference counts as correct at >= this (e.g. 4 for a Likert score)")  # fmt: skip
    p.add_argument("--model", action="append", default=[], help="only this model (repeatable)")
    p.add_argument("--conf-level", type=float, default=0.95, help="kappa interval level")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")


@command("grade-check", help="Validate the grader: automatic grades against a reference label (agreement, kappa, pending).", arguments=_check_args, order=42)  # fmt: skip
def grade_check_cmd(args: argparse.Namespace) -> int:
    if not 0 < args.conf_level < 1:
        raise DxTraceError(f"--conf-level must be between 0 and 1, got {args.conf_level}")
    engine = open_db(args)
    with session_scope(engine) as session:
        check = grade_check(
            session, resolve_study(session, args.study).id, args.reference, threshold=args.threshold, models=args.model or None,
            conf_level=args.conf_level,
        )  # fmt: skip
    conf = check.confusion()
    print_table(f"automatic grade vs {args.reference}", ["Automatic", "Ref. correct", "Ref. incorrect"],
                [[i, int(r["correct"]), int(r["incorrect"])] for i, r in conf.iterrows()])  # fmt: skip
    for by in ("tier", "model"):
        part = check.breakdown(by)
        rows = [[r[by], r["n"], r["graded"], r["pending"], "-" if r["agreement"] is None else f"{r['agreement']:.1%}"]
                for r in part.to_dict(orient="records")]  # fmt: skip
        print_table(f"by {by}", [by.title(), "N", "Graded", "Pending", "Agreement"], rows)
    console.print(check.summary())
    for note in check.notes:
        console.print(note)
    if args.json:
        import json

        args.json.write_text(json.dumps(check.to_dict(), indent=2, default=str), encoding="utf-8")
        console.print(f"wrote {args.json}")
    return 0


def _pair(text: str) -> tuple[str, str]:
    a, sep, b = text.partition(":")
    if not sep or not a.strip() or not b.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected MODEL_A:MODEL_B")
    return a.strip(), b.strip()


def _accuracy_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--study", help="study name or id, its effective grades (default: the only study)")
    src.add_argument("--csv", type=Path, help="a CSV of case,model,correct[,subgroup columns...] graded elsewhere")
    p.add_argument("--pair", action="append", type=_pair, default=None, metavar="A:B",
                   help="compare model A with model B (repeatable; default: the study's pairs, or the two models of a CSV)")  # fmt: skip
    p.add_argument("--alpha", type=float, default=None, help="significance level (default: the study's, else 0.01)")
    p.add_argument("--correction", choices=CORRECTIONS, default=None, help="adjust p-values across pairs")
    p.add_argument("--test", choices=MCNEMAR_METHODS, default="exact", help="McNemar form (default exact)")
    p.add_argument("--ci", choices=CI_METHODS, default="wilson", help="interval for accuracies (default wilson)")
    p.add_argument("--conf-level", type=float, default=None, help="interval level (default 1 - alpha)")
    p.add_argument("--difference", choices=DIFFERENCE_METHODS, default="newcombe", help="paired difference interval")
    p.add_argument("--subgroup", action="append", default=None, metavar="ATTR",
                   help="case attribute to split by (repeatable; default: incidence and specialty)")  # fmt: skip
    p.add_argument("--no-subgroups", action="store_true", help="overall table only")
    p.add_argument("--pending", choices=PENDING_POLICIES, default="exclude", help="how to count pending grades")
    p.add_argument("--model", action="append", default=None, help="only this model (repeatable)")
    p.add_argument("--repeat", type=int, default=0, help="which repeat of the study to analyse (default 0)")
    p.add_argument("--case-set", help="only this case set (default: one table per case set of the study)")
    p.add_argument("--out", type=Path, default=None, help="folder for accuracy_pairs.csv, accuracy_models.csv, .json, .md, forest plot")  # fmt: skip
    add_format_argument(p, FORMATS)


@command("accuracy", help="The study table: accuracy with CIs, McNemar per pair, overall and per subgroup.", arguments=_accuracy_args, order=41)  # fmt: skip
def accuracy_cmd(args: argparse.Namespace) -> int:
    formats = args.formats
    if args.alpha is not None and not 0 < args.alpha < 1:
        raise DxTraceError(f"--alpha must be between 0 and 1, got {args.alpha}")
    subgroups = [] if args.no_subgroups else (args.subgroup or ["incidence", "specialty"])
    options = dict(
        alpha=args.alpha,
        correction=args.correction,
        test=args.test,
        ci_method=args.ci,
        conf_level=args.conf_level,
        difference=args.difference,
        pending=args.pending,
    )
    if args.csv:
        reports = {"": _csv_report(args, subgroups, options)}
    else:
        engine = open_db(args)
        study_options = dict(subgroups=subgroups, pairs=args.pair, models=args.model, repeat=args.repeat, **options)
        with session_scope(engine) as session:
            args.study = resolve_study(session, args.study).id
            if args.case_set:
                reports = {args.case_set: study_accuracy(session, args.study, case_set=args.case_set, **study_options)}
            else:
                # A model's accuracy over two case sets would mix two difficulties: one table per case set.
                sets = study_case_sets(session, args.study)
                if len(sets) <= 1:
                    reports = {"": study_accuracy(session, args.study, **study_options)}
                else:
                    reports = study_accuracy_by_case_set(session, args.study, **study_options)
    for case_set, report in reports.items():
        if case_set:
            console.rule(f"case set {case_set}")
        _print(report)
        if args.out:
            for path in report.write(args.out, formats, stem=f"accuracy_{case_set}" if case_set else "accuracy"):
                console.print(f"wrote {path}")
    return 0


def _csv_report(args: argparse.Namespace, subgroups: list[str], options: dict) -> AccuracyReport:
    frame = read_results_csv(args.csv)
    if args.model:
        frame = frame[frame["model"].isin(args.model)]
    if args.subgroup is None and not args.no_subgroups:
        # The defaults only where the CSV has them: a CSV without incidence is still analysable.
        subgroups = [s for s in subgroups if s in frame.columns]
    missing = [s for s in subgroups if s not in frame.columns]
    if missing:
        cols = sorted(set(frame.columns) - {"case", "model", "correct"})
        raise DxTraceError(
            f"{args.csv}: no column {', '.join(missing)} to group by (subgroup columns: {', '.join(cols) or 'none'})"
        )
    models = list(dict.fromkeys(frame["model"]))
    pairs = args.pair if args.pair is not None else ([(models[0], models[1])] if len(models) == 2 else [])
    return accuracy_report(frame, pairs, subgroups=subgroups, source=str(args.csv), **options)


def _print(report: AccuracyReport) -> None:
    console.print(report.describe())
    if report.pairs:
        cols, rows = report.pair_table_rows()
        print_table("Paired comparisons (McNemar)", cols, rows)
    cols, rows = report.model_table_rows()
    print_table("Accuracy per model", cols, rows)
    for note in report.notes:
        console.print(f"note: {note}")
