"""Running a study's models on its cases: concurrent, resumable, one commit per response.

Resume and idempotency rest on the database: a Response row exists at most once
per (run, case, repeat) (a unique constraint), and each is committed as soon as
it arrives. A rerun computes what is missing (or failed) and does only that, so
a run killed at any moment, kill -9 included, loses nothing completed and
duplicates nothing; two runners racing on one study cannot duplicate either.
"""

from __future__ import annotations

import platform
import random
import socket
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db.engine import session_scope
from db.models import Case, Model, Response, Run, Study, utcnow
from pipeline.errors import DxTraceError
from pipeline.generate._backend import Backend, BackendError, Completion, Sampling, get_backend
from pipeline.generate._context import check_context, context_size, prompts_over_context
from pipeline.generate._prompts import PromptTemplate, load_template, messages_text
from pipeline.generate._record import cases_by_key, ensure_case_set, parse_output
from pipeline.generate._study import (
    ModelSpec,
    StudySpec,
    ensure_study,
    load_study_file,
    resolve_study_path,
    study_spec,
)


@dataclass
class ModelRunSummary:
    model: str
    backend: str
    run_id: int
    planned: int  # (case, repeat) pairs in the run
    already_done: int = 0  # found complete before this call
    completed: int = 0  # new responses this call
    failed: int = 0  # requests that failed this call (recorded with their error; retried next time)
    parse_failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)  # each distinct failure cause, with its count

    @property
    def tokens_per_s(self) -> float | None:
        return self.completion_tokens / self.wall_s if self.wall_s > 0 and self.completion_tokens else None

    @property
    def done(self) -> int:
        return self.already_done + self.completed


@dataclass
class GenerationSummary:
    study: str
    models: list[ModelRunSummary] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return sum(m.completed for m in self.models)

    @property
    def failed(self) -> int:
        return sum(m.failed for m in self.models)

    def first_errors(self, n: int = 3) -> list[str]:
        """The first distinct causes of failed requests, e.g. "model X: ... answered HTTP 401: ... (12x)"."""
        out = [
            f"{m.model}: {cause}" + (f" ({count}x)" if count > 1 else "")
            for m in self.models
            for cause, count in m.errors.items()
        ]
        return out[:n]

    def rows(self) -> list[list[Any]]:
        return [
            [
                m.model,
                m.backend,
                f"{m.done}/{m.planned}",
                m.completed,
                m.failed,
                m.parse_failures,
                f"{m.tokens_per_s:.1f}" if m.tokens_per_s else "",
            ]
            for m in self.models
        ]


@dataclass(frozen=True)
class _Item:
    case_id: int
    case_key: str
    repeat: int
    task: str
    options: list[str] | None
    messages: list[dict[str, str]]


def _matches(case: Case, where: dict[str, Any]) -> bool:
    """A case passes the study's filter on its fields (specialty, incidence, task) or free attributes."""
    for key, wanted in where.items():
        value = getattr(case, key) if key in ("specialty", "incidence", "task") else (case.attributes or {}).get(key)
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if value not in allowed:
            return False
    return True


def select_cases(cases: list[Case], spec: StudySpec, limit: int | None = None) -> list[Case]:
    """The study's cases in a stable order: the listed ones, or a seeded sample, or all; then the first `limit`."""
    by_key = {c.case_key: c for c in cases}
    if spec.cases:
        missing = [k for k in spec.cases if k not in by_key]
        if missing:
            raise DxTraceError(
                f"study {spec.name!r}: case(s) {', '.join(missing[:10])} not in case set {spec.case_set!r}"
            )
        chosen = [by_key[k] for k in spec.cases]
    else:
        ordered = sorted((c for c in cases if _matches(c, spec.where)), key=lambda c: c.case_key)
        if not ordered:
            raise DxTraceError(f"study {spec.name!r}: no case of {spec.case_set!r} matches where = {spec.where}")
        if spec.sample and spec.sample < len(ordered):
            picked = set(random.Random(spec.sample_seed).sample(range(len(ordered)), spec.sample))
            chosen = [c for i, c in enumerate(ordered) if i in picked]
        else:
            chosen = ordered
    return chosen[:limit] if limit is not None else chosen


def _run_meta(backend: Backend, template: PromptTemplate) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        dxtrace = version("dxtrace")
    except PackageNotFoundError:
        dxtrace = None
    return {
        **backend.describe(),
        "template": template.ref,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "dxtrace": dxtrace,
    }


def _find_or_create_run(
    session: Session, study: Study, model: Model, case_set_id: int, template: PromptTemplate, m: ModelSpec, repeats: int
) -> Run:
    params = m.sampling.to_dict()
    runs = session.exec(
        select(Run).where(
            Run.study_id == study.id,
            Run.model_id == model.id,
            Run.case_set_id == case_set_id,
            Run.template_hash == template.sha256,
            Run.source == "generated",
        )
    ).all()
    for run in runs:
        # Same model, cases, prompt text and sampling: the same run, resumed. Anything else is a new run.
        if (run.params or {}) == params:
            if run.repeats < repeats:
                run.repeats = repeats
                session.add(run)
            return run
    run = Run(
        study_id=study.id,
        model_id=model.id,
        case_set_id=case_set_id,
        template_name=template.name,
        template_version=template.version,
        template_hash=template.sha256,
        repeats=repeats,
        source="generated",
        status="running",
        params=params,
    )
    session.add(run)
    session.flush()
    return run


def _resolve_spec(engine: Engine, study: str | Path | StudySpec) -> tuple[StudySpec, bool]:
    """The study's spec, and whether its rows still have to be made from a file (nothing is written here)."""
    if isinstance(study, StudySpec):
        return study, True
    path = resolve_study_path(study)
    with session_scope(engine) as session:
        exists = session.exec(select(Study).where(Study.name == str(study))).first() is not None
        if exists and (path is None or Path(str(study)).suffix != ".toml"):
            return study_spec(session, str(study)), False
    if path is None:
        raise DxTraceError(
            f"no study {str(study)!r} in the database and no such study file; "
            "create one with: python -m pipeline study <file.toml>"
        )
    return load_study_file(path), True


def _store(
    engine: Engine, run_id: int, model_id: int, item: _Item, prompt: str, result: Completion | BackendError, k: int
) -> tuple[bool, bool]:
    """Commit one response (or its failure). Returns (stored, parse_ok)."""
    if isinstance(result, BackendError):
        values: dict[str, Any] = {
            "prompt": prompt,
            "raw_output": None,
            "trace": None,
            "answer": None,
            "diagnoses": None,
            "chosen_option": None,
            "parse_ok": False,
            "parse_error": "request failed",
            "error": str(result),
            "extra": {"status": result.status, "retryable": result.retryable},
        }
        parse_ok = False
    else:
        out = parse_output(result.text, task=item.task, options=item.options, trace=result.reasoning, k=k)
        values = {
            "prompt": prompt,
            "raw_output": result.text,
            "trace": out.trace,
            "answer": out.answer,
            "diagnoses": out.diagnoses,
            "chosen_option": out.chosen_option,
            "parse_ok": out.parse_ok,
            "parse_error": out.parse_error,
            "parse_reader": out.reader,
            "answer_shape": out.shape,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "reasoning_tokens": result.reasoning_tokens,
            "latency_s": result.latency_s,
            "finish_reason": result.finish_reason,
            "error": None,
            "extra": {
                k2: v
                for k2, v in (("reasoning_source", result.reasoning_source), ("served_model", result.served_model))
                if v
            }
            or None,
        }
        parse_ok = out.parse_ok
    try:
        with session_scope(engine) as session:
            row = session.exec(
                select(Response).where(
                    Response.run_id == run_id, Response.case_id == item.case_id, Response.repeat == item.repeat
                )
            ).first()
            if row is not None and row.error is None:
                return False, parse_ok  # another runner got there first
            if row is not None and isinstance(result, BackendError):
                row.extra = {**(row.extra or {}), "attempts": (row.extra or {}).get("attempts", 1) + 1}
                row.error = values["error"]
            elif row is not None:
                for key, value in values.items():
                    setattr(row, key, value)
                row.created_at = utcnow()
            else:
                row = Response(run_id=run_id, case_id=item.case_id, model_id=model_id, repeat=item.repeat, **values)
            session.add(row)
    except IntegrityError:
        return False, parse_ok  # inserted concurrently by another runner: that one stands
    return True, parse_ok


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[tps]} tok/s"),
        TextColumn("{task.fields[failed]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=False,
    )


def _run_model(
    engine: Engine,
    backend: Backend,
    run_id: int,
    model_id: int,
    items: list[_Item],
    summary: ModelRunSummary,
    sampling: Sampling,
    *,
    concurrency: int,
    k: int,
    progress: Progress | None,
) -> None:
    task = (
        progress.add_task(summary.model, total=summary.planned, completed=summary.already_done, tps="-", failed="")
        if progress
        else None
    )
    start = time.perf_counter()
    lock = threading.Lock()

    def call(item: _Item) -> Completion | BackendError:
        per_request = replace(sampling, seed=sampling.seed + item.repeat) if sampling.seed is not None else sampling
        try:
            return backend.complete(item.messages, per_request)
        except BackendError as exc:
            return exc

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix=f"dxtrace-{summary.model}")
    pending: dict[Future, _Item] = {}
    queue = list(items)
    try:
        while queue or pending:
            while queue and len(pending) < max(1, concurrency):
                item = queue.pop(0)
                pending[pool.submit(call, item)] = item
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                item = pending.pop(fut)
                result = fut.result()
                stored, parse_ok = _store(engine, run_id, model_id, item, messages_text(item.messages), result, k)
                with lock:
                    if isinstance(result, BackendError):
                        summary.failed += 1
                        cause = str(result)[:300]
                        summary.errors[cause] = summary.errors.get(cause, 0) + 1
                    elif stored:
                        summary.completed += 1
                        summary.parse_failures += 0 if parse_ok else 1
                        summary.prompt_tokens += result.prompt_tokens or 0
                        summary.completion_tokens += result.completion_tokens or 0
                    summary.wall_s = time.perf_counter() - start
                if progress is not None and task is not None:
                    tps = summary.tokens_per_s
                    progress.update(
                        task,
                        advance=0 if isinstance(result, BackendError) else 1,
                        tps=f"{tps:.1f}" if tps else "-",
                        failed=f"[red]{summary.failed} failed" if summary.failed else "",
                    )
    finally:
        # On Ctrl-C: drop what has not started; what was committed stays.
        pool.shutdown(wait=False, cancel_futures=True)
    summary.wall_s = time.perf_counter() - start


def generate(
    engine: Engine,
    study: str | Path | StudySpec,
    *,
    models: list[str] | None = None,
    limit: int | None = None,
    concurrency: int | None = None,
    timeout_s: float | None = None,
    max_retries: int | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> GenerationSummary:
    """Run the study's models on its cases, resuming where an earlier run stopped.

    `study` is a study name in the database, a shipped study ("demo", "published")
    or a study file. `limit` takes the first N of the study's cases (e.g. the demo's
    generate(engine, "demo", limit=6)). Failed requests are recorded with their error
    and retried on the next call.
    """
    spec, from_file = _resolve_spec(engine, study)
    wanted = spec.generated_models()
    if models:
        unknown = sorted(set(models) - {m.name for m in spec.models})
        if unknown:
            raise DxTraceError(f"study {spec.name!r} has no model(s) {', '.join(unknown)}")
        wanted = [m for m in wanted if m.name in models]
    template = load_template(spec.template)
    summary = GenerationSummary(study=spec.name)
    plans: list[tuple[ModelSpec, int, int, list[_Item], ModelRunSummary]] = []
    backends: dict[str, Backend] = {}
    over: list[str] = []  # prompts too long for their model's context
    try:
        for m in wanted:
            cls = get_backend(m.backend)
            config = m.backend_config()
            if timeout_s is not None:
                config = replace(config, timeout_s=timeout_s)
            if max_retries is not None:
                config = replace(config, max_retries=max_retries)
            backends[m.name] = cls(config)
        # One transaction from the study's rows to its runs: a refusal below leaves nothing behind.
        with session_scope(engine) as session:
            if from_file:
                ensure_study(session, spec)
            study_row = session.exec(select(Study).where(Study.name == spec.name)).one()
            case_set = ensure_case_set(session, spec.case_set)
            cases = select_cases(list(cases_by_key(session, case_set).values()), spec, limit)
            if not cases:
                raise DxTraceError(f"case set {spec.case_set!r} has no cases")
            mismatched = [c.case_key for c in cases if c.task != template.task]
            if mismatched:
                raise DxTraceError(
                    f"template {template.ref} is for {template.task} cases, but {len(mismatched)} case(s) of "
                    f"{spec.case_set!r} are not (e.g. {mismatched[0]})"
                )
            for m in wanted:
                model = session.exec(select(Model).where(Model.study_id == study_row.id, Model.name == m.name)).one()
                run = _find_or_create_run(session, study_row, model, case_set.id, template, m, spec.repeats)
                run.meta = _run_meta(backends[m.name], template)
                session.add(run)
                done = {
                    (cid, rep)
                    for cid, rep in session.exec(
                        select(Response.case_id, Response.repeat).where(
                            Response.run_id == run.id, Response.error.is_(None)
                        )  # type: ignore[union-attr]
                    )
                }
                items = [
                    _Item(
                        c.id,
                        c.case_key,
                        rep,
                        c.task,
                        c.options,
                        template.render(vignette=c.vignette, options=c.options),
                    )  # type: ignore[arg-type]
                    for c in cases
                    for rep in range(spec.repeats)
                    if (c.id, rep) not in done
                ]
                over.extend(
                    prompts_over_context(
                        m.name,
                        context_size(backends[m.name]),
                        {i.case_key: messages_text(i.messages) for i in items}.items(),
                    )
                )
                planned = len(cases) * spec.repeats
                s = ModelRunSummary(m.name, m.backend, run.id, planned, already_done=planned - len(items))  # type: ignore[arg-type]
                plans.append((m, run.id, model.id, items, s))  # type: ignore[arg-type]
                summary.models.append(s)
            check_context(over)  # raises inside the transaction: no run row is written, no request sent
        bar = _progress(console) if progress else None
        if bar is not None:
            bar.start()
        try:
            for m, run_id, model_id, items, s in plans:
                if items:
                    backend = backends[m.name]
                    workers = concurrency or m.concurrency or backend.default_concurrency
                    _run_model(
                        engine,
                        backend,
                        run_id,
                        model_id,
                        items,
                        s,
                        m.sampling,
                        concurrency=workers,
                        k=spec.k,
                        progress=bar,
                    )
                _finish_run(engine, run_id, s)
        finally:
            if bar is not None:
                bar.stop()
    finally:
        for b in backends.values():
            b.close()
    return summary


def _finish_run(engine: Engine, run_id: int, s: ModelRunSummary) -> None:
    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            return
        ok = session.exec(select(Response.id).where(Response.run_id == run_id, Response.error.is_(None))).all()  # type: ignore[union-attr]
        if len(ok) >= s.planned:
            run.status = "complete"
            run.finished_at = utcnow()
        else:
            run.status = "failed" if s.failed else "running"
        session.add(run)
