"""Grading a study's responses into Grade rows, and reading the grade that counts.

A clinician's grade always wins; otherwise the newest automatic grade. An imported label (a
benchmark's own judge) is never a grade: it is kept only as a reference for grade-check, never
counted in accuracy, and never blocks grading (a response with only an imported label is ungraded). Every grade records the gold it was made against: when the
gold changes (import-cases --update) the grade is stale, automatic ones are re-graded, and a
clinician's is flagged for review (the response goes back to pending), never silently reused.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import delete
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from db.models import TASK_MULTIPLE_CHOICE, Annotator, Case, CaseSet, Grade, Model, Response, Run
from pipeline.accuracy._judge import Judge, JudgeConfig, study_judge_config
from pipeline.accuracy._match import (
    GRADER_VERSION,
    GoldNames,
    MatchResult,
    Thresholds,
    match_diagnoses,
    match_option,
    mentions_gold,
)
from pipeline.accuracy._normalise import name_variants
from pipeline.accuracy._synonyms import case_synonyms
from pipeline.errors import DxTraceError
from pipeline.studies import get_study

STATUS_AUTO, STATUS_PENDING, STATUS_CLINICIAN = "auto", "pending", "clinician"
STATUS_STALE = "stale"  # made against an older gold diagnosis; grade again
UNGRADED = "ungraded"


@dataclass
class GradingSummary:
    study_id: int
    k: int
    graded: int = 0
    correct: int = 0
    incorrect: int = 0
    pending: int = 0
    skipped: int = 0  # already graded (by this grader or a clinician)
    stale: int = 0  # re-graded because the gold changed since their grade
    review: int = 0  # a clinician graded them against an older gold: back to pending for review
    no_response: int = 0  # failed requests: nothing to grade
    by_method: Counter = field(default_factory=Counter)
    by_model: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, model: str, result: MatchResult) -> None:
        self.graded += 1
        key = "pending" if result.correct is None else ("correct" if result.correct else "incorrect")
        setattr(self, key, getattr(self, key) + 1)
        self.by_method[result.method] += 1
        self.by_model[model][key] += 1

    def summary(self) -> str:
        return (
            f"graded {self.graded} response(s) (top {self.k}): {self.correct} correct, {self.incorrect} incorrect "
            f"automatically, {self.pending} waiting for a clinician; {self.skipped} already graded, "
            f"{self.no_response} without a response"
            + (f"; {self.stale} re-graded because their gold changed" if self.stale else "")
            + (f"; {self.review} clinician grade(s) made on an older gold wait for review" if self.review else "")
        )


def _rows(session: Session, study_id: int, models: list[str] | None = None):
    stmt = (
        select(Response, Case, CaseSet, Model)
        .join(Case, Case.id == Response.case_id)
        .join(CaseSet, CaseSet.id == Case.case_set_id)
        .join(Model, Model.id == Response.model_id)
        .where(Model.study_id == study_id)
        .order_by(Response.id)
        # The long texts are not read here: at 100,000 responses they would be gigabytes.
        .options(defer(Response.trace), defer(Response.raw_output), defer(Response.prompt))
    )
    if models:
        stmt = stmt.where(Model.name.in_(models))
    return session.exec(stmt).all()


def _grades_by_response(session: Session, response_ids: list[int]) -> dict[int, list[Grade]]:
    out: dict[int, list[Grade]] = defaultdict(list)
    for start in range(0, len(response_ids), 500):  # stay under the bound-parameter limit
        chunk = response_ids[start : start + 500]
        for g in session.exec(select(Grade).where(Grade.response_id.in_(chunk)).order_by(Grade.id)):
            out[g.response_id].append(g)
    return out


@dataclass(frozen=True)
class _GradeKey:
    """What deciding whether a response needs grading reads of a grade, without its long details."""

    id: int
    response_id: int
    status: str
    grader: str
    k: int
    method: str
    details: dict
    correct: bool | None = None
    rank: int | None = None
    score: float | None = None


def _grade_key_columns() -> tuple:
    gold = Grade.details["gold"].as_string()
    return (Grade.id, Grade.response_id, Grade.status, Grade.grader, Grade.k, Grade.method, gold, Grade.correct,
            Grade.rank, Grade.score)  # fmt: skip


def _add_grade_keys(out: dict[int, list[_GradeKey]], rows) -> None:
    for gid, rid, status, grader, k, method, g, correct, rank, score in rows:
        details = {} if g is None else {"gold": g}
        out[rid].append(_GradeKey(gid, rid, status, grader, k, method, details, correct, rank, score))


def _grade_keys(session: Session, response_ids: list[int]) -> dict[int, list[_GradeKey]]:
    out: dict[int, list[_GradeKey]] = defaultdict(list)
    for start in range(0, len(response_ids), 500):  # stay under the bound-parameter limit
        chunk = response_ids[start : start + 500]
        _add_grade_keys(
            out, session.exec(select(*_grade_key_columns()).where(col(Grade.response_id).in_(chunk)).order_by(Grade.id))
        )
    return out


def _study_grade_keys(session: Session, study_id: int) -> dict[int, list[_GradeKey]]:
    """_grade_keys of every response of a study, in one query (not 200 IN lists at 100,000 responses)."""
    out: dict[int, list[_GradeKey]] = defaultdict(list)
    stmt = (
        select(*_grade_key_columns())
        .join(Response, Response.id == Grade.response_id)
        .join(Model, Model.id == Response.model_id)
        .where(Model.study_id == study_id)
        .order_by(Grade.id)
    )
    _add_grade_keys(out, session.exec(stmt))
    return out


@dataclass
class GradeCache:
    """Kept across grade_study calls of one run (the CLI grades model by model): each distinct
    (diagnosis, gold) pair is matched once and each distinct name encoded once per run."""

    matches: dict = field(default_factory=dict)
    names: object | None = None  # the NameEmbedder, loaded when first needed


def _is_ours(g: Grade) -> bool:
    return g.status in (STATUS_AUTO, STATUS_PENDING) and g.grader.startswith("dxtrace-grader")


def is_imported(g: Grade) -> bool:
    return g.method == "imported"


def grade_gold(g: Grade) -> str | None:
    """The gold diagnosis a grade was made against (None for grades older than this record)."""
    return (g.details or {}).get("gold")


def is_stale(g: Grade, case: Case) -> bool:
    gold = grade_gold(g)
    return gold is not None and gold != case.gold_diagnosis


@dataclass
class _Todo:
    resp: Response
    case: Case
    model: Model
    gold: GoldNames
    review: Grade | None  # a clinician's grade made against an older gold: to be reviewed
    replaced: list[int] = field(default_factory=list)  # this grader's earlier grades, deleted with the new one


def grade_study(
    session: Session,
    study_id: int,
    *,
    k: int = 5,
    thresholds: Thresholds | None = None,
    embeddings: bool = True,
    regrade: bool = False,
    models: list[str] | None = None,
    terminology: bool = True,
    judge: JudgeConfig | None | bool = None,
    batch_size: int | None = None,
    cache: GradeCache | None = None,
) -> GradingSummary:
    """Grade every response of the study that has no current grade; write one Grade row each.

    regrade=True replaces this grader's earlier automatic and pending grades (never a clinician's; an
    imported label is kept as a reference). A grade made against an older gold is re-graded even
    without regrade. Uncertain matches are written with status "pending" and correct=None.
    judge: None = the study's [grading.judge] if it names one; False = no judge; or a JudgeConfig.
    batch_size: commit after every batch of that many grades (each response's old grades are deleted
    in the batch that writes its new one), so a run killed midway keeps what it finished and the next
    run grades only the rest. None: one transaction, committed by the caller.
    cache: share matches and name vectors across calls (see GradeCache).
    """
    if k < 1:
        raise DxTraceError(f"k must be at least 1, got {k}")
    study = get_study(session, study_id)
    th = thresholds or Thresholds()
    judge_config = study_judge_config(study.settings) if judge is None else (judge or None)
    # Decided on light rows, so that a rerun with nothing new reads no response text at all.
    rows = _light_rows(session, study.id, models)
    existing = _grade_keys(session, [r.id for r, *_ in rows])
    summary = GradingSummary(study.id, k)
    waiting = []
    for key, case, case_set, model in rows:
        grades = existing.get(key.id, [])
        clinician = [g for g in grades if g.status == STATUS_CLINICIAN]
        fresh_clinician = [g for g in clinician if not is_stale(g, case)]
        if fresh_clinician and max(g.id for g in fresh_clinician) == max(g.id for g in clinician):
            summary.skipped += 1
            continue
        ours = [g for g in grades if _is_ours(g)]
        current = [g for g in ours if g.k == k and not is_stale(g, case)]
        review = max(clinician, key=lambda g: g.id) if clinician else None
        if current and not regrade and (review is None or current[-1].id > review.id):
            summary.skipped += 1
            continue
        waiting.append((key.id, case, case_set, model, review, ours))
    responses = _responses(session, [w[0] for w in waiting])
    todo: list[_Todo] = []
    for rid, case, case_set, model, review, ours in waiting:
        resp = responses[rid]
        if resp.error and not (resp.answer or "").strip():
            summary.no_response += 1
            continue
        if any(is_stale(g, case) for g in ours):
            summary.stale += 1
        gold = GoldNames.build(case.gold_diagnosis, case_synonyms(case_set.name, case.case_key, case.synonyms))
        todo.append(_Todo(resp, case, model, gold, review, [g.id for g in ours]))

    cache = cache if cache is not None else GradeCache()
    judge_backend = Judge(judge_config) if judge_config else None
    size = batch_size or max(1, len(todo))
    try:
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            _grade_batch(session, batch, summary, cache, embeddings, k, th, terminology, judge_backend)
            if batch_size:
                session.commit()
    finally:
        if judge_backend is not None:
            judge_backend.close()
    session.flush()
    return summary


def _grade_batch(
    session: Session,
    batch: list[_Todo],
    summary: GradingSummary,
    cache: GradeCache,
    embeddings: bool,
    k: int,
    th: Thresholds,
    terminology: bool,
    judge_backend: Judge | None,
) -> None:
    """Grade one batch and write it: delete each response's earlier grades of ours, add the new ones."""
    first = [(item, _grade_one(item, k, th, None, terminology, cache.matches)) for item in batch]
    needs = embeddings and any(_needs_embedding(res) for _, res in first)
    if needs and cache.names is None:
        from pipeline.accuracy._embed import NameEmbedder

        cache.names = NameEmbedder()
    similarity = cache.names if needs else None
    if similarity is not None:
        names: set[str] = set()
        for item, res in first:
            if _needs_embedding(res):
                names.update(item.gold.strings())
                for d in _diagnoses(item.resp, k):
                    names.update(name_variants(d, item=True))
        similarity.prime(names)  # each distinct name encoded once, in batches
    replaced = [gid for item in batch for gid in item.replaced]
    for i in range(0, len(replaced), 500):
        session.exec(delete(Grade).where(col(Grade.id).in_(replaced[i : i + 500])))
    for item, res in first:
        if similarity is not None and _needs_embedding(res):
            res = _grade_one(item, k, th, similarity, terminology, cache.matches)
        if judge_backend is not None and res.correct is not True and (item.resp.answer or "").strip():
            res = _judged(judge_backend, item, res, k)
        if item.review is not None:
            res = _for_review(res, item.review, item.case)
            summary.review += 1
        session.add(_grade_row(item, res, k, th, embedded=similarity is not None, terminology=terminology))
        summary.add(item.model.name, res)
    session.flush()


def _judged(judge: Judge, item: _Todo, res: MatchResult, k: int) -> MatchResult:
    verdict = judge.ask(item.case.gold_diagnosis, item.resp.answer or "", k)
    evidence = {**verdict.as_dict(), "ladder": res.evidence, "ladder_method": res.method}
    return MatchResult(verdict.correct, None, "judge", None, None, res.candidates, res.best, evidence=evidence)


def _for_review(res: MatchResult, clinician: Grade, case: Case) -> MatchResult:
    """A clinician graded this response against another gold: a clinician must look again."""
    evidence = {
        **(res.evidence or {}),
        "review": (
            f"gold changed from {grade_gold(clinician)!r} to {case.gold_diagnosis!r} since clinician grade "
            f"#{clinician.id} by {clinician.grader}"
        ),
        "automatic": None if res.correct is None else res.correct,
        "automatic_method": res.method,
    }
    return MatchResult(None, None, "review", res.score, None, res.candidates, res.best, evidence=evidence)


def _needs_embedding(res: MatchResult) -> bool:
    return res.correct is not True and res.method not in ("option", "text") and bool(res.best)


def _diagnoses(resp: Response, k: int) -> list[str]:
    if resp.diagnoses is not None:
        return [str(d) for d in resp.diagnoses][:k]
    if not resp.answer:
        return []
    from pipeline.generate import parse_diagnoses

    return parse_diagnoses(resp.answer, k)


def _grade_one(
    item: _Todo, k: int, th: Thresholds, similarity, terminology: bool, cache: dict | None = None
) -> MatchResult:
    resp, case, gold = item.resp, item.case, item.gold
    if case.task == TASK_MULTIPLE_CHOICE:
        chosen = resp.chosen_option
        if chosen is None and resp.answer:
            from pipeline.generate import parse_choice

            chosen = parse_choice(resp.answer, list(case.options or []))
        if chosen is None and (resp.answer or "").strip():
            # An answer that names no option unambiguously: a clinician reads it.
            return MatchResult(None, None, "option", None, None)
        return match_option(chosen, gold)
    diagnoses = _diagnoses(resp, k)
    if not diagnoses:
        mentioned = mentions_gold(resp.answer or "", gold)
        if mentioned:
            # Nothing could be parsed, but the gold is named somewhere: let a clinician read the answer.
            return MatchResult(None, None, "text", None, None, evidence={"tier": "text", "gold_name": mentioned})
        return MatchResult(False, None, "none", None, None)
    return match_diagnoses(
        diagnoses, gold, k=k, thresholds=th, similarity=similarity, terminology=terminology, cache=cache
    )


def _grade_row(item: _Todo, res: MatchResult, k: int, th: Thresholds, embedded: bool, terminology: bool) -> Grade:
    resp = item.resp
    details = {
        "gold": item.case.gold_diagnosis,
        "diagnoses": _diagnoses(resp, k) if res.method != "option" else None,
        "gold_names": item.gold.strings(),
        "evidence": res.evidence,
        "matches": [m.as_dict() for m in res.best],
        "candidates": [m.as_dict() for m in res.candidates],
        "thresholds": {
            "fuzzy_confident": th.fuzzy_confident,
            "fuzzy_uncertain": th.fuzzy_uncertain,
            "embedding_confident": th.embedding_confident,
            "embedding_uncertain": th.embedding_uncertain,
            "broader_incorrect": th.broader_incorrect,
        },
        "embedding_tier": embedded,
        "terminology_tier": terminology,
    }
    return Grade(
        response_id=resp.id,
        correct=res.correct,
        rank=res.rank,
        k=k,
        method=res.method,
        score=None if res.score is None else round(float(res.score), 4),
        matched_diagnosis=res.matched_diagnosis,
        status=res.status,
        grader=GRADER_VERSION,
        details=details,
    )


def _effective(grades: list[Grade], case: Case | None = None) -> Grade | None:
    """The clinician's newest grade (unless made against an older gold), else the newest automatic or
    pending grade. An imported label is a reference, never a grade: alone it gives None (ungraded)."""
    if not grades:
        return None
    clinician = [g for g in grades if g.status == STATUS_CLINICIAN]
    if clinician:
        newest = max(clinician, key=lambda g: g.id or 0)
        if case is None or not is_stale(newest, case):
            later = [g for g in grades if g.status != STATUS_CLINICIAN and (g.id or 0) > (newest.id or 0)]
            # A review grade written after it (gold changed) supersedes it; nothing else does.
            if not any(g.method == "review" for g in later):
                return newest
    own = [g for g in grades if g.status != STATUS_CLINICIAN and not is_imported(g)]
    return max(own, key=lambda g: g.id or 0) if own else None


def _scalar(v) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _attribute(v):
    """A case attribute as a frame cell: scalars as they are, a list of scalars as a tuple (a subgroup
    whose levels may overlap), anything else left out."""
    if _scalar(v):
        return v
    if isinstance(v, list) and all(_scalar(x) and x is not None for x in v):
        return tuple(v)
    return _SKIP


_SKIP = object()


def effective_correct(session: Session, response_ids: list[int]) -> dict[int, bool | None]:
    """The grade that counts for a few responses (as effective_grades says, without reading the study)."""
    cases = dict(session.exec(select(Response.id, Case).join(Case, Case.id == Response.case_id).where(
        Response.id.in_(response_ids))).all())  # fmt: skip
    grades = _grades_by_response(session, list(cases))
    out: dict[int, bool | None] = {}
    for rid, case in cases.items():
        g = _effective(grades.get(rid, []), case)
        out[rid] = None if g is None or is_stale(g, case) else g.correct
    return out


@dataclass(frozen=True)
class _Named:
    id: int
    name: str


@dataclass(frozen=True)
class _ResponseKey:
    id: int
    repeat: int


def _responses(session: Session, ids: list[int]) -> dict[int, Response]:
    out: dict[int, Response] = {}
    for start in range(0, len(ids), 500):
        stmt = select(Response).where(col(Response.id).in_(ids[start : start + 500]))
        for r in session.exec(stmt.options(defer(Response.trace), defer(Response.raw_output), defer(Response.prompt))):
            out[r.id] = r
    return out


def _light_rows(
    session: Session, study_id: int, models: list[str] | None = None
) -> list[tuple[_ResponseKey, Case, _Named, _Named]]:
    """_rows for reading grades: the cases (with their JSON attributes) loaded once each, not once per
    response; the responses, case sets and models as the few columns read."""
    in_study = select(Response.case_id).join(Model, Model.id == Response.model_id).where(Model.study_id == study_id)
    cases: dict[int, tuple[Case, _Named]] = {}
    for case, set_id, set_name in session.exec(
        select(Case, CaseSet.id, CaseSet.name)
        .join(CaseSet, CaseSet.id == Case.case_set_id)
        .where(col(Case.id).in_(in_study.distinct()))
    ):
        cases[case.id] = (case, _Named(set_id, set_name))
    named = {m.id: _Named(m.id, m.name) for m in session.exec(select(Model).where(Model.study_id == study_id))}
    stmt = (
        select(Response.id, Response.repeat, Response.case_id, Response.model_id)
        .join(Model, Model.id == Response.model_id)
        .where(Model.study_id == study_id)
        .order_by(Response.id)
    )
    if models:
        stmt = stmt.where(col(Model.name).in_(models))
    out = []
    for rid, repeat, case_id, model_id in session.exec(stmt):
        case, case_set = cases[case_id]
        out.append((_ResponseKey(rid, repeat), case, case_set, named[model_id]))
    return out


def effective_grades(session: Session, study_id: int) -> pd.DataFrame:
    """One row per response with the grade that counts (a clinician's wins) and the case attributes."""
    study = get_study(session, study_id)
    rows = _light_rows(session, study.id)
    grades = _study_grade_keys(session, study.id)  # without the grades' long details
    cells: dict[int, dict] = {}  # each case's attribute columns, worked out once per case
    records = []
    for resp, case, case_set, model in rows:
        g = _effective(grades.get(resp.id, []), case)
        stale = g is not None and is_stale(g, case)
        rec = {
            "response_id": resp.id,
            "case_id": case.id,
            "case_key": case.case_key,
            "case_set": case_set.name,
            "model": model.name,
            "model_id": model.id,
            "repeat": resp.repeat,
            "correct": None if g is None or stale else g.correct,
            "rank": None if g is None else g.rank,
            "method": None if g is None else g.method,
            "status": UNGRADED if g is None else (STATUS_STALE if stale else g.status),
            "score": None if g is None else g.score,
            "grader": None if g is None else g.grader,
            "grade_id": None if g is None else g.id,
            "gold_diagnosis": case.gold_diagnosis,
            "specialty": case.specialty,
            "incidence": case.incidence,
        }
        if case.id not in cells:
            cells[case.id] = {k: c for k, v in (case.attributes or {}).items() if (c := _attribute(v)) is not _SKIP}
        rec.update((k, c) for k, c in cells[case.id].items() if k not in rec)
        records.append(rec)
    columns = [
        "response_id", "case_id", "case_key", "case_set", "model", "model_id", "repeat", "correct", "rank",
        "method", "status", "score", "grader", "grade_id", "gold_diagnosis", "specialty", "incidence",
    ]  # fmt: skip
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=columns)
    frame["correct"] = frame["correct"].astype("boolean")
    frame["rank"] = frame["rank"].astype("Int64")
    return frame


@dataclass(frozen=True)
class _Gold:
    gold_diagnosis: str | None


def effective_grade_states(session: Session, study_id: int) -> dict[int, dict]:
    """response id -> correct, rank, method and status of the grade that counts, as effective_grades decides
    them, for graded responses only; without the frame and the case attributes (an export at 100,000)."""
    study = get_study(session, study_id)
    golds = session.exec(
        select(Response.id, Case.gold_diagnosis)
        .join(Case, Case.id == Response.case_id)
        .join(Model, Model.id == Response.model_id)
        .where(Model.study_id == study.id)
    ).all()
    grades = _study_grade_keys(session, study.id)
    out: dict[int, dict] = {}
    for rid, gold in golds:
        g = _effective(grades.get(rid, []), _Gold(gold))
        if g is None:
            continue
        stale = is_stale(g, _Gold(gold))
        correct = None if stale or g.correct is None else bool(g.correct)
        status = STATUS_STALE if stale else g.status
        out[rid] = {"correct": correct, "rank": g.rank, "method": g.method, "status": status}
    return out


@dataclass(frozen=True)
class PendingGrade:
    """An uncertain grade for the clinician's grading view: which listed diagnosis is the gold, if any."""

    response_id: int
    grade_id: int
    case_id: int
    case_key: str
    case_set: str
    task: str
    vignette: str
    gold_diagnosis: str
    synonyms: list[str]
    diagnoses: list[str]  # numbered 1..n in the view; rank refers to this list
    answer: str | None
    options: list[str] | None
    candidates: list[dict]  # the uncertain matches: rank, diagnosis, method, score
    model: str
    k: int
    reason: str | None = None  # why it waits: gold changed since a clinician's grade, the judge's problem, a guard


def _pending_reason(details: dict) -> str | None:
    ev = details.get("evidence") or {}
    return ev.get("review") or ev.get("reason") or ev.get("guard_reason")


def pending_grades(session: Session, study_id: int) -> list[PendingGrade]:
    """Responses whose grade that counts is still pending, oldest first."""
    study = get_study(session, study_id)
    rows = _rows(session, study.id)
    grades = _grades_by_response(session, [r.id for r, *_ in rows])
    out = []
    for resp, case, case_set, model in rows:
        g = _effective(grades.get(resp.id, []), case)
        if g is None or g.status != STATUS_PENDING:
            continue
        details = g.details or {}
        diagnoses = details.get("diagnoses") or ([resp.chosen_option] if resp.chosen_option else [])
        out.append(
            PendingGrade(
                response_id=resp.id,
                grade_id=g.id,
                case_id=case.id,
                case_key=case.case_key,
                case_set=case_set.name,
                task=case.task,
                vignette=case.vignette,
                gold_diagnosis=case.gold_diagnosis,
                synonyms=case_synonyms(case_set.name, case.case_key, case.synonyms),
                diagnoses=[str(d) for d in diagnoses],
                answer=resp.answer,
                options=list(case.options) if case.options else None,
                candidates=list(details.get("candidates") or []),
                model=model.name,
                k=g.k,
                reason=_pending_reason(details),
            )
        )
    return out


def record_clinician_grade(
    session: Session, *, response_id: int, annotator_id: int, rank: int | None, note: str | None = None
) -> Grade:
    """A clinician's verdict: rank = position (1-based) of the listed diagnosis that is the gold; None = none is.

    It wins over every automatic grade; a later clinician grade of the same response replaces it.
    """
    resp = session.get(Response, response_id)
    if resp is None:
        raise DxTraceError(f"no response with id {response_id}")
    annotator = session.get(Annotator, annotator_id)
    if annotator is None or not annotator.active:
        raise DxTraceError(f"no active annotator with id {annotator_id}")
    from pipeline.annotation import may_grade

    run = session.get(Run, resp.run_id)
    if run is None or not may_grade(session, annotator, run.study_id, response_id):
        raise DxTraceError(
            f"{annotator.username} may not grade in this study: a lead allows it with "
            f"python -m pipeline users grading {annotator.username} on (and assigns the study's items)"
        )
    case = session.get(Case, resp.case_id)
    previous = _effective(_grades_by_response(session, [response_id]).get(response_id, []), case)
    k = previous.k if previous else 5
    diagnoses = [str(d) for d in ((previous.details or {}).get("diagnoses") or [])] if previous else []
    if not diagnoses and resp.diagnoses:
        diagnoses = [str(d) for d in resp.diagnoses][:k]
    if rank is not None:
        limit = len(diagnoses) if diagnoses else k
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= limit:
            raise DxTraceError(f"rank must be a number from 1 to {limit}, or none; got {rank!r}")
    grade = Grade(
        response_id=response_id,
        correct=rank is not None,
        rank=rank,
        k=k,
        method="clinician",
        score=None,
        matched_diagnosis=diagnoses[rank - 1] if rank is not None and rank <= len(diagnoses) else None,
        status=STATUS_CLINICIAN,
        grader=annotator.username,
        annotator_id=annotator.id,
        details={
            "gold": case.gold_diagnosis if case else None,
            "diagnoses": diagnoses,
            "previous_grade_id": previous.id if previous else None,
            "note": note,
        },
    )
    session.add(grade)
    session.flush()
    return grade


@dataclass(frozen=True)
class StaleGrades:
    """Grades made against a gold that has since changed (import-cases --update)."""

    automatic: int  # re-graded by the next `grade`; until then they count as not graded
    clinician: int  # flagged: the next `grade` puts the response back to pending for a clinician's review

    def message(self) -> str | None:
        if not (self.automatic or self.clinician):
            return None
        return (
            f"the gold diagnosis changed: {self.automatic} automatic grade(s) are stale and "
            f"{self.clinician} clinician grade(s) need review; run: python -m pipeline grade --study STUDY"
        )


def stale_grades(session: Session, case_keys: list[str] | None = None, case_set: str | None = None) -> StaleGrades:
    """Count the grades whose recorded gold differs from their case's gold now (all, or these cases)."""
    stmt = select(Grade, Case).join(Response, Response.id == Grade.response_id).join(Case, Case.id == Response.case_id)
    if case_set is not None:
        stmt = stmt.join(CaseSet, CaseSet.id == Case.case_set_id).where(CaseSet.name == case_set)
    auto = clinician = 0
    keys = set(case_keys) if case_keys is not None else None
    for g, case in session.exec(stmt):
        if (keys is None or case.case_key in keys) and is_stale(g, case):
            if g.status == STATUS_CLINICIAN:
                clinician += 1
            else:
                auto += 1
    return StaleGrades(auto, clinician)


def incorrect_response_ids(session: Session, study_id: int, *, models: list[str] | None = None) -> list[int]:
    """Responses whose grade that counts says the gold is not among the diagnoses: the annotation work list."""
    frame = effective_grades(session, study_id)
    if frame.empty:
        return []
    mask = frame["correct"].eq(False).fillna(False)
    if models:
        mask &= frame["model"].isin(models)
    return sorted(int(i) for i in frame.loc[mask, "response_id"])
