"""Computing a study's signals and storing them: idempotent (unchanged input is skipped) and resumable
(each batch commits on its own, so an interrupted run keeps what it finished)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from db.engine import session_scope
from db.models import Case, CaseRedFlags, CaseSet, ErrorSignal, Model, Response, Run
from pipeline.accuracy import effective_grades
from pipeline.annotation._steps import split_steps
from pipeline.errors import DxTraceError
from pipeline.signals._gold import case_gold_names
from pipeline.signals._quotes import verified
from pipeline.signals._redflags import active_redflags, flags_in_vignette, from_row
from pipeline.signals._registry import RedFlagHit, Signal, SignalInput, SignalResult, registered
from pipeline.studies import get_study

BATCH = 64  # responses per transaction: larger batches encode with less padding
DEFAULT_K = 5


@dataclass
class SignalSummary:
    study_id: int
    responses: int = 0
    computed: int = 0  # responses whose signals were (re)computed now
    unchanged: int = 0  # skipped: stored signals read the same input
    no_trace: int = 0
    texts_embedded: int = 0
    quotes_dropped: int = 0  # evidence that failed the quote check and is not shown
    fired: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    redflag_source: str = ""

    def summary(self) -> str:
        fired = ", ".join(f"{k} {v}" for k, v in self.fired.items()) or "none"
        return (
            f"signals of {self.responses} response(s): {self.computed} computed, {self.unchanged} unchanged, "
            f"{self.no_trace} without a trace; fired now: {fired}; red flags from {self.redflag_source}; "
            f"{self.texts_embedded} text(s) embedded; {self.quotes_dropped} quote(s) failed the check; "
            f"{self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class _Row:
    response: Response
    case: Case
    case_set: str


def _rows(session: Session, study_id: int) -> list[_Row]:
    stmt = (
        select(Response, Case, CaseSet)
        .join(Case, Case.id == Response.case_id)
        .join(CaseSet, CaseSet.id == Case.case_set_id)
        .join(Run, Run.id == Response.run_id)
        .where(Run.study_id == study_id)
        .order_by(Response.id)
    )
    return [_Row(r, c, cs.name) for r, c, cs in session.exec(stmt).all()]


def _diagnoses(resp: Response, k: int) -> list[str]:
    if resp.diagnoses:
        return [str(d) for d in resp.diagnoses][:k]
    if not resp.answer:
        return []
    from pipeline.generate import parse_diagnoses

    return parse_diagnoses(resp.answer, k)


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _model_flags(session: Session, extractor: str, case_ids: Sequence[int]) -> dict[int, list[RedFlagHit]]:
    from pipeline.accuracy import normalise

    rows = session.exec(
        select(CaseRedFlags).where(CaseRedFlags.extractor == extractor, CaseRedFlags.case_id.in_(list(case_ids)))
    ).all()
    out: dict[int, list[RedFlagHit]] = {}
    for row in rows:
        out[row.case_id] = [
            RedFlagHit(f"model-{i}", f["name"], (f["name"],), f["quote"], extractor, normalise(f["quote"]))
            for i, f in enumerate(row.flags, 1)
        ]
    return out


@contextmanager
def _bar(total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]signals"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
        task = bar.add_task("signals", total=total)
        yield lambda n: bar.advance(task, n)


def _load_model() -> Callable[[], Any]:
    cache: dict[str, Any] = {}

    def load() -> Any:
        if "m" not in cache:
            from pipeline.local_models import load_embedding_model

            cache["m"] = load_embedding_model()
        return cache["m"]

    return load


def compute_study_signals(
    engine: Engine,
    study: int | str,
    *,
    signals: Sequence[str] | None = None,
    k: int = DEFAULT_K,
    redflags_from: str | None = None,
    progress: bool = False,
    batch: int = BATCH,
    embedding_model: Any = None,
    recompute: bool = False,
) -> SignalSummary:
    """Compute and store every registered signal (or those named) of every response of the study.

    redflags_from: None for the active red-flag list, or "model:NAME" for red flags a model extracted
    (python -m pipeline redflags extract); a case without extracted flags then has none.
    """
    started = time.perf_counter()
    plugins = [s for s in registered() if signals is None or s.name in signals]
    unknown = set(signals or ()) - {s.name for s in plugins}
    if unknown:
        raise DxTraceError(
            f"unknown signal(s) {', '.join(sorted(unknown))}; known: {', '.join(s.name for s in registered())}"
        )
    with session_scope(engine) as session:
        st = get_study(session, study)
        study_id = st.id
        flag_row = active_redflags(session)
        flag_set = from_row(flag_row)
        rows = _rows(session, study_id)
        grades = effective_grades(session, study_id).set_index("response_id")
        stored = {
            (s.response_id, s.signal): s.input_hash
            for s in session.exec(select(ErrorSignal).where(ErrorSignal.study_id == study_id))
        }
        model_flags = _model_flags(session, redflags_from, [r.case.id for r in rows]) if redflags_from else None
        if redflags_from and not model_flags:
            raise DxTraceError(
                f"no red flags extracted by {redflags_from} for this study's cases; "
                "run `python -m pipeline redflags extract --model NAME` first"
            )
    summary = SignalSummary(study_id, responses=len(rows))
    summary.redflag_source = redflags_from or f"list v{flag_set.version}"
    loader = (lambda: embedding_model) if embedding_model is not None else _load_model()
    work: list[tuple[SignalInput, dict[str, str]]] = []
    for row in rows:
        item = _input(row, grades, k, flag_set, model_flags)
        hashes = {
            p.name: _hash(p.name, p.version, _input_key(item, p, flag_row.content_hash, redflags_from)) for p in plugins
        }
        if not item.steps:
            summary.no_trace += 1
        if not recompute and all(stored.get((row.response.id, n)) == h for n, h in hashes.items()):
            summary.unchanged += 1
            continue
        work.append((item, hashes))
    with _bar(len(work), progress) as advance:
        for at in range(0, len(work), batch):
            part = work[at : at + batch]
            with session_scope(engine) as session:
                _compute_batch(session, study_id, part, plugins, loader, summary)
            advance(len(part))
    summary.seconds = time.perf_counter() - started
    return summary


def _input(row: _Row, grades: pd.DataFrame, k: int, flag_set, model_flags) -> SignalInput:
    resp, case = row.response, row.case
    correct = rank = None
    if resp.id in grades.index:
        g = grades.loc[resp.id]
        correct = None if pd.isna(g["correct"]) else bool(g["correct"])
        rank = None if pd.isna(g["rank"]) else int(g["rank"])
    trace = resp.trace or ""
    red = model_flags.get(case.id, []) if model_flags is not None else flags_in_vignette(case.vignette, flag_set)
    return SignalInput(
        response_id=resp.id,
        trace=trace,
        steps=split_steps(trace),
        vignette=case.vignette,
        gold=case_gold_names(row.case_set, case.case_key, case.gold_diagnosis, case.synonyms),
        correct=correct,
        rank=rank,
        diagnoses=_diagnoses(resp, k),
        k=k,
        red_flags=red,
    )


def _input_key(item: SignalInput, plugin: Signal, flags_hash: str, redflags_from: str | None) -> list:
    return [
        item.trace, item.vignette, item.gold.strings(), item.correct, item.rank, item.diagnoses, item.k,
        [(h.id, h.quote, h.source) for h in item.red_flags], flags_hash, redflags_from,
    ]  # fmt: skip


def _compute_batch(
    session: Session, study_id: int, part, plugins: list[Signal], loader, summary: SignalSummary
) -> None:
    if any(p.needs_vectors for p in plugins):
        _attach_vectors(session, [item for item, _ in part if item.steps], loader, summary)
    ids = [item.response_id for item, _ in part]
    old = {
        (s.response_id, s.signal): s
        for s in session.exec(
            select(ErrorSignal).where(ErrorSignal.study_id == study_id, ErrorSignal.response_id.in_(ids))
        )
    }
    for item, hashes in part:
        for plugin in plugins:
            result = plugin.compute(item)
            row = _row(study_id, item, plugin, result, hashes[plugin.name], summary)
            previous = old.get((item.response_id, plugin.name))
            if previous is not None:
                session.delete(previous)
                session.flush()
            session.add(row)
            if row.fired:
                summary.fired[plugin.name] = summary.fired.get(plugin.name, 0) + 1
        summary.computed += 1
    session.flush()


def _row(
    study_id: int, item: SignalInput, plugin: Signal, result: SignalResult, input_hash: str, summary
) -> ErrorSignal:
    good, bad = verified(result.evidence, item.trace, item.vignette, item.steps)
    summary.quotes_dropped += bad
    details = dict(result.details)
    if bad:
        details["quotes_dropped"] = bad
    return ErrorSignal(
        study_id=study_id,
        response_id=item.response_id,
        signal=plugin.name,
        error_mode=plugin.error_mode,
        version=plugin.version,
        fired=result.fired,
        score=result.score,
        steps=sorted({e.step for e in good if e.step is not None}),
        evidence=[e.as_dict() for e in good],
        summary=result.summary,
        details=details,
        input_hash=input_hash,
    )


_flag_vector_cache: dict[tuple[str, ...], Any] = {}


def _attach_vectors(session: Session, items: list[SignalInput], loader, summary: SignalSummary) -> None:
    from pipeline.signals._vectors import cached_vectors, encode_phrases

    if not items:
        return
    vectors, embedded = cached_vectors(session, loader, {i.response_id: (i.trace, i.steps, i.vignette) for i in items})
    summary.texts_embedded += embedded
    # Each red flag's names are encoded once per process, all new ones in one call.
    new = list(
        dict.fromkeys(p for i in items for h in i.red_flags if (p := (h.name, *h.terms)) not in _flag_vector_cache)
    )
    if new:
        encoded = encode_phrases(loader(), [t for p in new for t in p])
        at = 0
        for p in new:
            _flag_vector_cache[p] = encoded[at : at + len(p)]
            at += len(p)
    for item in items:
        item.step_vectors, item.case_vectors = vectors[item.response_id]
        for hit in item.red_flags:
            item.flag_vectors[hit.id] = _flag_vector_cache[(hit.name, *hit.terms)]


def signals_frame(session: Session, study_id: int) -> pd.DataFrame:
    """One row per stored signal of a response: response_id, signal, error_mode, fired, score, steps, summary."""
    rows = session.exec(select(ErrorSignal).where(ErrorSignal.study_id == study_id).order_by(ErrorSignal.id)).all()
    cols = ["response_id", "signal", "error_mode", "version", "fired", "score", "steps", "summary", "evidence"]
    frame = pd.DataFrame(
        [
            [s.response_id, s.signal, s.error_mode, s.version, s.fired, s.score, s.steps, s.summary, s.evidence]
            for s in rows
        ],
        columns=cols,
    )
    frame["fired"] = frame["fired"].astype("boolean")
    return frame


def response_signals(session: Session, study_id: int, response_id: int) -> list[ErrorSignal]:
    return list(
        session.exec(
            select(ErrorSignal).where(ErrorSignal.study_id == study_id, ErrorSignal.response_id == response_id)
        ).all()
    )


def study_models(session: Session, study_id: int) -> dict[int, Model]:
    return {m.id: m for m in session.exec(select(Model).where(Model.study_id == study_id))}
