"""The accuracy section: per case set, top-k accuracy with pending grades counted each way, top-1 and the
rank of the correct diagnosis, a model x subgroup matrix, the paired comparisons with uncorrected and
Holm-adjusted p-values, and a forest plot grouped by subgroup."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.errors import DxTraceError
from pipeline.report import _charts
from pipeline.report._model import Chart, Heading, Paragraph, Section, Table
from pipeline.report._ranks import rank_summaries

CORRECTION = "holm"
OVERALL = "overall"


def _p(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _reports(data: Any, case_set: str) -> tuple[Any, str | None]:
    """The study table with Holm-adjusted pairs, or without pairs when a pair cannot be compared (and why)."""
    from pipeline.accuracy import study_accuracy

    try:
        return (
            study_accuracy(data.session, data.study.id, case_set=case_set, correction=CORRECTION, grades=data.grades),
            None,
        )
    except DxTraceError as exc:
        # A pair that cannot be compared (e.g. its base model is not graded yet) should not hide the accuracy
        # of the models that are.
        report = study_accuracy(
            data.session, data.study.id, case_set=case_set, correction=CORRECTION, pairs=(), grades=data.grades
        )
        return report, str(exc)


def _sensitivity(data: Any, case_set: str, policy: str) -> dict[str, Any]:
    from pipeline.accuracy import study_accuracy

    report = study_accuracy(
        data.session, data.study.id, case_set=case_set, pairs=(), subgroups=(), pending=policy, grades=data.grades
    )
    return {r.model: r.accuracy for r in report.models if r.subgroup == OVERALL}


def _model_table(data: Any, report: Any, case_set: str) -> Table:
    overall = [r for r in report.models if r.subgroup == OVERALL]
    any_pending = any(r.pending for r in overall)
    wrong = _sensitivity(data, case_set, "incorrect") if any_pending else {}
    right = _sensitivity(data, case_set, "correct") if any_pending else {}
    level = f"{round(100 * report.conf_level):g}% CI"
    rows, records = [], []
    for r in overall:
        w, c = wrong.get(r.model, r.accuracy), right.get(r.model, r.accuracy)
        rows.append([r.model, str(r.accuracy.n), str(r.pending), r.accuracy.format(), w.format(), c.format()])
        records.append(
            {
                "model": r.model,
                "n": r.accuracy.n,
                "correct": r.accuracy.successes,
                "pending": r.pending,
                "accuracy": r.accuracy.estimate,
                "ci_lower": r.accuracy.lower,
                "ci_upper": r.accuracy.upper,
                "accuracy_pending_wrong": w.estimate,
                "accuracy_pending_right": c.estimate,
            }  # fmt: skip
        )
    return Table(
        [
            "Model",
            "Graded",
            "Pending",
            f"Top-{data.k} accuracy ({level})",
            "Pending counted wrong",
            "Pending counted right",
        ],
        rows,
        caption=f"Top-{data.k} accuracy per model on {case_set} (pending grades left out; beside it, counted as wrong and as right)",
        data=pd.DataFrame(records),
    )


def _rank_table(data: Any, report: Any, case_set: str) -> Table | None:
    grades = data.grades
    frame = grades[(grades["case_set"] == case_set) & (grades["repeat"] == 0) & (grades["status"] != "ungraded")]
    if frame.empty:
        return None
    summaries = rank_summaries(frame, ranks=data.k, conf_level=report.conf_level, ci_method=report.ci_method)
    ranks = sorted({r for s in summaries for r in s.at_rank})
    level = f"{round(100 * report.conf_level):g}% CI"
    rows, records = [], []
    for s in summaries:
        rows.append(
            [
                s.model,
                str(s.n),
                s.top_k.format(),
                s.top_1.format(),
                "–" if s.mean_rank is None else f"{s.mean_rank:.2f}",
                *[f"{100 * (s.share(r) or 0):.1f}% ({s.at_rank.get(r, 0)})" for r in ranks],
                str(s.rank_unknown),
            ]  # fmt: skip
        )
        records.append(
            {
                "model": s.model,
                "n": s.n,
                "top_k": s.top_k.estimate,
                "top_1": s.top_1.estimate,
                "top_1_lower": s.top_1.lower,
                "top_1_upper": s.top_1.upper,
                "mean_rank": s.mean_rank,
                **{f"rank_{r}": s.at_rank.get(r, 0) for r in ranks},
                "rank_unknown": s.rank_unknown,
            }  # fmt: skip
        )
    return Table(
        [
            "Model",
            "Graded",
            f"Top-{data.k} ({level})",
            f"Top-1 ({level})",
            "Mean rank of the correct diagnosis",
            *[f"At rank {r}" for r in ranks],
            "Correct, rank not recorded",
        ],  # fmt: skip
        rows,
        caption=f"Top-1 accuracy and the rank of the correct diagnosis on {case_set} (share of graded responses)",
        data=pd.DataFrame(records),
    )


def _matrices(report: Any, case_set: str) -> list[Table]:
    out = []
    models = list(dict.fromkeys(r.model for r in report.models))
    for subgroup in report.subgroups:
        cells = {(r.model, r.level): r.accuracy for r in report.models if r.subgroup == subgroup}
        levels = list(dict.fromkeys(r.level for r in report.models if r.subgroup == subgroup))
        if not levels:
            continue
        overall = {r.model: r.accuracy for r in report.models if r.subgroup == OVERALL}
        rows = [[m, *[cells[(m, lv)].format() for lv in levels], overall[m].format()] for m in models]
        data = pd.DataFrame(
            [
                {
                    "model": m,
                    "level": lv,
                    "n": cells[(m, lv)].n,
                    "correct": cells[(m, lv)].successes,
                    "accuracy": cells[(m, lv)].estimate,
                    "ci_lower": cells[(m, lv)].lower,
                    "ci_upper": cells[(m, lv)].upper,
                }
                for m in models
                for lv in levels
            ]  # fmt: skip
        )
        out.append(
            Table(
                ["Model", *levels, "Overall"],
                rows,
                caption=f"Accuracy by model and {subgroup} on {case_set} "
                f"({round(100 * report.conf_level):g}% {report.ci_method.capitalize()} CI, correct/graded)",
                data=data,
            )
        )
    return out


def _pair_table(report: Any, case_set: str) -> Table:
    level = f"{round(100 * report.conf_level):g}% CI"
    rows, records = [], []
    for r in report.pairs:
        sub = "Overall" if r.subgroup == OVERALL else f"{r.subgroup}: {r.level}"
        sig = "n/a" if r.significant is None else ("yes" if r.significant else "no")
        rows.append(
            [
                sub,
                f"{r.model_a} vs {r.model_b}",
                str(r.n),
                r.accuracy_a.format(),
                r.accuracy_b.format(),
                str(r.counts.b),
                str(r.counts.c),
                r.note or _p(r.test.p_value),
                "–" if r.note else _p(r.p_adjusted),
                sig,
                r.difference.format(),
            ]  # fmt: skip
        )
        records.append(
            {
                "subgroup": r.subgroup,
                "level": r.level,
                "model_a": r.model_a,
                "model_b": r.model_b,
                "n": r.n,
                "b": r.counts.b,
                "c": r.counts.c,
                "p": None if r.note else r.test.p_value,
                "p_holm": r.p_adjusted,
                "significant": r.significant,
                "difference": r.difference.estimate,
                "difference_lower": r.difference.lower,
                "difference_upper": r.difference.upper,
            }  # fmt: skip
        )
    return Table(
        [
            "Subgroup",
            "Pair (A vs B)",
            "n",
            f"Accuracy A ({level})",
            f"Accuracy B ({level})",
            "b",
            "c",
            "p (uncorrected)",
            "p (Holm)",
            f"Significant (Holm, alpha={report.alpha:g})",
            f"Difference A-B ({level})",
        ],  # fmt: skip
        rows,
        caption=f"Paired comparisons (McNemar, exact) on {case_set}, overall and per subgroup; "
        "b = cases only A got right, c = cases only B got right",
        data=pd.DataFrame(records),
    )


def accuracy_section(data: Any) -> Section:
    from pipeline.accuracy import study_case_sets

    title = "Diagnostic accuracy"
    s = Section("accuracy", title)
    shown, problems = 0, []
    case_sets = study_case_sets(data.session, data.study.id)
    for case_set in case_sets:
        # One table per case set: a model's accuracy over two different case sets mixes two difficulties.
        try:
            report, pair_problem = _reports(data, case_set)
        except DxTraceError as exc:
            problems.append(f"{case_set}: {exc}" if len(case_sets) > 1 else str(exc))
            continue
        shown += 1
        s.add(Heading(f"Case set {case_set}"))
        if pair_problem:
            s.add(Paragraph(f"Paired comparisons not available yet: {pair_problem}", "note"))
        s.add(Paragraph(report.describe()))
        s.add(_model_table(data, report, case_set))
        ranks = _rank_table(data, report, case_set)
        if ranks is not None:
            s.add(ranks)
        for table in _matrices(report, case_set):
            s.add(table)
        if report.pairs:
            s.add(_pair_table(report, case_set))
        else:
            s.add(
                Paragraph("No paired comparison: no configured pair answered the same cases of this case set.", "note")
            )
        for note in report.notes:
            s.add(Paragraph(note, "note"))
        if any(r.accuracy.n for r in report.models):
            s.add(
                Chart(
                    f"Accuracy per model and subgroup on {case_set}, with {round(100 * report.conf_level):g}% intervals",
                    _charts.forest_grouped(report),
                    f"chart-accuracy-{case_set}",
                )
            )
    if not shown:
        return Section.missing(
            "accuracy",
            title,
            "; ".join(problems) or "no responses yet",
            how=f"python -m pipeline grade --study {data.study.name}",
        )
    for problem in problems:
        s.add(Paragraph(f"Not available yet: {problem}", "note"))
    for block in grader_validation(data):
        s.add(block)
    return s


def _frame_table(frame: pd.DataFrame, caption: str, id: str) -> Table:
    def cell(v) -> str:
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return "–"
        return f"{v:.1%}" if isinstance(v, float) else str(v)

    rows = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    return Table([str(c) for c in frame.columns], rows, caption, id, data=frame)


def _has_reference(data: Any) -> bool:
    """Whether the study has a reference report_grade_check can use: a clinician's grade or an imported label."""
    from sqlmodel import or_, select

    from db.models import Grade, Response, Run

    found = data.session.exec(
        select(Grade.id)
        .join(Response, Response.id == Grade.response_id)
        .join(Run, Run.id == Response.run_id)
        .where(Run.study_id == data.study.id, or_(Grade.status == "clinician", Grade.method == "imported"))
        .limit(1)
    ).first()
    return found is not None


def grader_validation(data: Any) -> list:
    """The grade-check against the study's reference labels (imported judge or clinicians), when it has any:
    a reader sees how far the automatic grades behind every figure above agree with an independent reference."""
    from pipeline.accuracy import report_grade_check

    if not _has_reference(data):
        return []  # what report_grade_check finds then, without reading every grade of a large study
    check = report_grade_check(data.session, data.study.id)
    if check is None:
        return []
    blocks: list = [Heading("Grader validation"), Paragraph(check.summary() + ".")]
    confusion = check.confusion().reset_index()
    blocks.append(_frame_table(confusion, "Automatic grade (rows) against the reference (columns)", "grade-check"))
    blocks.append(_frame_table(check.breakdown("tier"), "Agreement per grading tier", "grade-check-tier"))
    blocks.append(_frame_table(check.breakdown("model"), "Agreement per model", "grade-check-model"))
    blocks.extend(Paragraph(n, "note") for n in check.notes)
    blocks.append(
        Paragraph(f"python -m pipeline grade-check --study {data.study.name} --reference {check.reference}", "command")
    )
    return blocks
