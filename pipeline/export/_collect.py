"""Reading one study from the database into export records (one per response) and a manifest."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Row, Table, Text, bindparam, cast
from sqlmodel import Session, select

from db.engine import json_loads
from db.models import (
    Annotation,
    AnnotationEvent,
    Annotator,
    Assignment,
    Case,
    CaseSet,
    CodebookVersion,
    ErrorSignal,
    FinalLabel,
    Grade,
    Model,
    Response,
    Run,
    Study,
)
from pipeline.errors import DxTraceError
from pipeline.export._derived import effective_grade_map, split_trace
from pipeline.export._filters import ExportFilters, correctness_of
from pipeline.export._format import (
    FORMAT,
    FORMAT_VERSION,
    AnnotatorRefs,
    natural_key,
    person_ids_in,
    response_key,
    ts,
)
from pipeline.studies import get_study


@dataclass
class CollectedExport:
    manifest: dict  # study.json without "files" and "exported_at"
    records: list[dict]


def _model_dict(model: Model, names: dict[int, str], *, created: bool) -> dict:
    out = {
        "name": model.name,
        "backend": model.backend,
        "model_id": model.model_id,
        "base_url": model.base_url,
        "params": model.params,
        "is_reasoning": model.is_reasoning,
        "paired_model": names.get(model.paired_model_id) if model.paired_model_id else None,
    }
    if created:
        out["created_at"] = ts(model.created_at)
    return out


def _signal_dict(sig: Row) -> dict:
    return {
        "signal": sig.signal,
        "error_mode": sig.error_mode,
        "version": sig.version,
        "fired": sig.fired,
        "score": sig.score,
        "steps": list(sig.steps or []),
        "summary": sig.summary,
        "evidence": list(sig.evidence or []),
    }


def _check_names(kind: str, wanted: tuple[str, ...], known: set[str]) -> None:
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise DxTraceError(
            f"{kind} filter: no {kind} {', '.join(map(repr, unknown))} in this study "
            f"(there are: {', '.join(sorted(known)) or 'none'})"
        )


CHUNK = 2_000  # responses per chunk of an export: memory stays flat however large the study


@dataclass
class _Context:
    """What every record of an export needs besides its own rows (small: a study's models, runs, sets...)."""

    study: Study
    models: dict[int, Model]
    model_names: dict[int, str]
    runs: dict[int, Run]
    case_sets: dict[int, CaseSet]
    ordinal: dict[int, tuple[int, int]]
    codebooks: dict[int, CodebookVersion]
    refs: AnnotatorRefs
    effective: dict[int, dict] | None
    # Built once each and shared by every record that names them (records are written, never changed).
    _parts: dict[tuple[str, int], dict] = field(default_factory=dict)

    def codebook(self, cid: int | None) -> str | None:
        return self.codebooks[cid].version if cid is not None else None

    def part(self, kind: str, key: int, build) -> dict:
        if (kind, key) not in self._parts:
            self._parts[(kind, key)] = build()
        return self._parts[(kind, key)]


@dataclass
class ExportPlan:
    """An export decided before any record is built: which responses in which order, the manifest, and the
    error-mode and signal columns of the tables (a first pass over ids and labels, without the texts)."""

    manifest: dict  # study.json without "files" and "exported_at"
    response_ids: list[int]  # selected, in record order
    codes: list[str]  # error-mode columns of the tables
    signals: list[str]  # signal columns of the tables
    context: _Context


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def plan_export(
    session: Session, study_id: int, filters: ExportFilters | None = None, *, pseudonymise: bool = True
) -> ExportPlan:
    filters = filters or ExportFilters()
    study = get_study(session, study_id)
    models = {m.id: m for m in session.exec(select(Model).where(Model.study_id == study.id))}
    model_names = {i: m.name for i, m in models.items()}
    runs = {r.id: r for r in session.exec(select(Run).where(Run.study_id == study.id))}
    case_sets = {
        c.id: c for c in session.exec(select(CaseSet).where(CaseSet.id.in_({r.case_set_id for r in runs.values()})))
    }

    _check_names("model", filters.models, set(model_names.values()))
    _check_names("case set", filters.case_sets, {c.name for c in case_sets.values()})

    # A model's runs on one case set are numbered by start, so a key names one response for good.
    by_pair: dict[tuple[int, int], list[Run]] = defaultdict(list)
    for run in runs.values():
        by_pair[(run.model_id, run.case_set_id)].append(run)
    ordinal: dict[int, tuple[int, int]] = {}
    for group in by_pair.values():
        group.sort(key=lambda r: (ts(r.started_at), r.id))
        for n, run in enumerate(group, 1):
            ordinal[run.id] = (n, len(group))

    # First pass: ids and labels only (no prompt, output or trace is read here).
    rows = session.exec(
        select(Response.id, Response.model_id, Response.run_id, Response.repeat, Case.case_key)
        .join(Run, Response.run_id == Run.id)
        .join(Case, Response.case_id == Case.id)
        .where(Run.study_id == study.id)
    ).all()
    grades: dict[int, list[tuple]] = defaultdict(list)
    for rid, annotator_id, grader in session.exec(
        select(Grade.response_id, Grade.annotator_id, Grade.grader)
        .join(Response, Grade.response_id == Response.id)
        .join(Run, Response.run_id == Run.id)
        .where(Run.study_id == study.id)
    ):
        grades[rid].append((annotator_id, grader))
    annotations: dict[int, list[tuple]] = defaultdict(list)
    for ann_id, rid, annotator_id, cid, modes, created in session.exec(
        select(
            Annotation.id,
            Annotation.response_id,
            Annotation.annotator_id,
            Annotation.codebook_version_id,
            Annotation.error_modes,
            Annotation.created_at,
        ).where(Annotation.study_id == study.id)
    ):
        annotations[rid].append((ann_id, annotator_id, cid, modes, ts(created)))
    events: dict[int, list[tuple]] = defaultdict(list)
    for ann_id, annotator_id, before, after in session.exec(
        select(
            AnnotationEvent.annotation_id, AnnotationEvent.annotator_id, AnnotationEvent.before, AnnotationEvent.after
        )
        .join(Annotation, AnnotationEvent.annotation_id == Annotation.id)
        .where(Annotation.study_id == study.id)
    ):
        events[ann_id].append((annotator_id, before, after))
    assignments: dict[int, list[int]] = defaultdict(list)
    for rid, annotator_id in session.exec(
        select(Assignment.response_id, Assignment.annotator_id).where(Assignment.study_id == study.id)
    ):
        assignments[rid].append(annotator_id)
    finals = {
        row[0]: row[1:]
        for row in session.exec(
            select(
                FinalLabel.response_id,
                FinalLabel.method,
                FinalLabel.adjudicator_id,
                FinalLabel.codebook_version_id,
                FinalLabel.error_modes,
            ).where(FinalLabel.study_id == study.id)
        )
    }
    signal_names: dict[int, list[str]] = defaultdict(list)
    for rid, name in session.exec(
        select(ErrorSignal.response_id, ErrorSignal.signal)
        .where(ErrorSignal.study_id == study.id)
        .order_by(ErrorSignal.signal, ErrorSignal.id)
    ):
        signal_names[rid].append(name)
    codebooks = {c.id: c for c in session.exec(select(CodebookVersion))}
    accounts = {a.id: a for a in session.exec(select(Annotator))}
    usernames = {i: a.username for i, a in accounts.items()}
    id_of_name = {name: i for i, name in usernames.items()}

    effective = effective_grade_map(session, study.id)
    if filters.correctness and effective is None:
        raise DxTraceError("the correctness filter needs the grading module (pipeline.accuracy), not installed")

    selected: list[tuple] = []
    for rid, model_id, run_id, repeat, case_key in rows:
        model = models[model_id]
        run = runs[run_id]
        if filters.models and model.name not in filters.models:
            continue
        if filters.case_sets and case_sets[run.case_set_id].name not in filters.case_sets:
            continue
        if filters.correctness:
            eff = effective.get(rid) if effective else None
            state = correctness_of(eff["correct"] if eff else None, eff is not None)
            if state not in filters.correctness:
                continue
        if filters.adjudication:
            final = finals.get(rid)
            if (final[0] if final else "unsettled") not in filters.adjudication:
                continue
        if filters.annotated_only and not annotations.get(rid):
            continue
        order = (model.name, case_sets[run.case_set_id].name, natural_key(case_key), repeat, ordinal[run_id][0])
        selected.append((order, rid))
    selected.sort(key=lambda x: x[0])
    ids = [rid for _order, rid in selected]

    # Pseudonyms are numbered over the people this export mentions, in account order.
    people: set[int] = set()
    for rid in ids:
        for annotator_id, grader in grades.get(rid, []):
            if annotator_id is not None:
                people.add(annotator_id)
            if grader in id_of_name:
                people.add(id_of_name[grader])
        for ann_id, annotator_id, *_rest in annotations.get(rid, []):
            people.add(annotator_id)
            for ev_annotator, before, after in events.get(ann_id, []):
                people.add(ev_annotator)
                people |= person_ids_in(before, usernames) | person_ids_in(after, usernames)
        people.update(assignments.get(rid, []))
        final = finals.get(rid)
        if final and final[1] is not None:
            people.add(final[1])
    refs = AnnotatorRefs.build(people, usernames, pseudonymise)
    refs.codebook_versions = {cid: c.version for cid, c in codebooks.items()}

    # The tables' error-mode columns: the codebooks' codes, then any other code in record order.
    used_codebooks: set[int] = set()
    codes: list[str] = []
    n_annotations = n_finals = 0
    signals: list[str] = []
    for rid in ids:
        anns = sorted(annotations.get(rid, []), key=lambda a: (natural_key(refs.ref_of[a[1]]), a[4]))
        n_annotations += len(anns)
        for _ann_id, _annotator_id, cid, modes, _created in anns:
            used_codebooks.add(cid)
            codes.extend(modes or [])
        final = finals.get(rid)
        if final:
            n_finals += 1
            if final[2] is not None:
                used_codebooks.add(final[2])
            codes.extend(final[3] or [])
        signals.extend(signal_names.get(rid, []))
    if study.codebook_version_id is not None:
        used_codebooks.add(study.codebook_version_id)
    book_ids = sorted(used_codebooks, key=lambda c: natural_key(codebooks[c].version))
    codes = list(dict.fromkeys([m["code"] for cid in book_ids for m in codebooks[cid].error_modes] + codes))

    context = _Context(study, models, model_names, runs, case_sets, ordinal, codebooks, refs, effective)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "study": {
            "name": study.name,
            "description": study.description,
            "blind_models": study.blind_models,
            "blind_annotators": study.blind_annotators,
            "show_suggestions": study.show_suggestions,
            "significance_level": study.significance_level,
            "codebook_version": context.codebook(study.codebook_version_id),
            "settings": study.settings,
            "created_at": ts(study.created_at),
        },
        "models": [
            _model_dict(m, model_names, created=True)
            for m in sorted(models.values(), key=lambda m: (ts(m.created_at), m.id))
        ],
        "case_sets": [
            {
                "name": c.name,
                "task": c.task,
                "source": c.source,
                "attribution": c.attribution,
                "licence": c.licence,
                "description": c.description,
                "created_at": ts(c.created_at),
            }
            for c in sorted(case_sets.values(), key=lambda c: c.name)
        ],
        "codebooks": [
            {
                "version": codebooks[cid].version,
                "title": codebooks[cid].title,
                "error_modes": codebooks[cid].error_modes,
                "content_hash": codebooks[cid].content_hash,
                "created_at": ts(codebooks[cid].created_at),
            }
            for cid in book_ids
        ],
        "annotators": [
            {"ref": refs.ref_of[i], "role": accounts[i].role}
            | ({} if pseudonymise else {"display_name": accounts[i].display_name})
            for i in sorted(refs.ref_of)
        ],
        "pseudonymised": pseudonymise,
        "filters": filters.to_dict(),
        "counts": {
            "responses": len(ids),
            "annotations": n_annotations,
            "final_labels": n_finals,
            "annotators": len(refs.ref_of),
        },
    }
    return ExportPlan(manifest, ids, codes, list(dict.fromkeys(signals)), context)


def _t(model) -> Table:
    return model.__table__


def _by_response(rows) -> dict[int, list]:
    out: dict[int, list] = defaultdict(list)
    for row in rows:
        out[row.response_id].append(row)
    return out


def _grades_query(raw_json: bool):
    table = _t(Grade)
    if not raw_json:
        return select(table)
    # The details as their stored JSON text, written into the export as they are (orjson.Fragment):
    # decoding and encoding them again was a sixth of an export's time.
    columns = [c for c in table.c if c.name != "details"]
    return select(*columns, cast(table.c.details, Text).label("details_json"))


def _stored_details(grade: Row):
    return grade.details


def _details(grade: Row):
    """A grade's details as a fragment of the stored JSON text (raw_json), decoded only when that text
    may hold a number JSON cannot (NaN, Infinity: Python's json writes them; orjson writes null)."""
    text = grade.details_json
    if text is None:
        return None
    if "NaN" in text or "Infinity" in text:
        return json_loads(text)
    return orjson.Fragment(text)


# One statement per table with an expanding IN parameter: compiled once and cached, not rebuilt with
# 2,000 literal values per chunk (a tenth of an export's time at 100,000 responses).
_IDS = bindparam("ids", expanding=True)


def _in_chunk(model, column: str = "response_id", study_id: int | None = None):
    table = _t(model)
    stmt = select(table).where(table.c[column].in_(_IDS))
    return stmt if study_id is None else stmt.where(table.c.study_id == study_id)


def iter_records(
    session: Session, plan: ExportPlan, chunk: int = CHUNK, *, raw_json: bool = False
) -> Iterator[list[dict]]:
    """The export's records in order, `chunk` responses at a time (each chunk read with a few IN queries).

    Records share their case, model and run dicts: copy one before changing it. With `raw_json`, a grade's
    details are an orjson.Fragment of the stored text (for writing the file), not a dict."""
    # Plain rows (not ORM objects: building those was half the export's time); the same attributes.
    study_id = plan.context.study.id
    grade_t, ev_t = _t(Grade), _t(AnnotationEvent)
    q_responses = _in_chunk(Response, "id")
    q_cases = _in_chunk(Case, "id")
    q_grades = _grades_query(raw_json).where(grade_t.c.response_id.in_(_IDS)).order_by(grade_t.c.id)
    q_annotations = _in_chunk(Annotation, study_id=study_id).order_by(_t(Annotation).c.id)
    q_events = _in_chunk(AnnotationEvent, "annotation_id").order_by(ev_t.c.id)
    q_assignments = _in_chunk(Assignment, study_id=study_id).order_by(_t(Assignment).c.id)
    q_finals = _in_chunk(FinalLabel, study_id=study_id)
    q_signals = _in_chunk(ErrorSignal, study_id=study_id).order_by(_t(ErrorSignal).c.signal, _t(ErrorSignal).c.id)
    details = _details if raw_json else _stored_details
    cases: dict[int, Row] = {}
    for ids in _chunks(plan.response_ids, chunk):
        of_chunk = {"ids": ids}
        responses = {r.id: r for r in session.execute(q_responses, of_chunk)}
        missing = list({r.case_id for r in responses.values()} - cases.keys())
        if missing:
            cases.update((c.id, c) for c in session.execute(q_cases, {"ids": missing}))
        grades = _by_response(session.execute(q_grades, of_chunk))
        annotations = _by_response(session.execute(q_annotations, of_chunk))
        ann_ids = [a.id for anns in annotations.values() for a in anns]
        events: dict[int, list[Row]] = defaultdict(list)
        for sub in _chunks(ann_ids, chunk):
            for ev in session.execute(q_events, {"ids": sub}):
                events[ev.annotation_id].append(ev)
        assignments = _by_response(session.execute(q_assignments, of_chunk))
        finals = {f.response_id: f for f in session.execute(q_finals, of_chunk)}
        signals = _by_response(session.execute(q_signals, of_chunk))
        records = []
        for rid in ids:
            resp = responses[rid]
            case = cases[resp.case_id]
            records.append(
                _record(
                    plan.context,
                    resp,
                    case,
                    grades.get(rid, []),
                    [(a, events.get(a.id, [])) for a in annotations.get(rid, [])],
                    assignments.get(rid, []),
                    finals.get(rid),
                    signals.get(rid, []),
                    details,
                )
            )
        yield records


def collect_export(
    session: Session,
    study_id: int,
    filters: ExportFilters | None = None,
    *,
    pseudonymise: bool = True,
    raw_json: bool = False,
) -> CollectedExport:
    """The whole export in memory (small studies, tests); export_study streams it instead (raw_json=True)."""
    plan = plan_export(session, study_id, filters, pseudonymise=pseudonymise)
    records = [record for chunk in iter_records(session, plan, raw_json=raw_json) for record in chunk]
    return CollectedExport(manifest=plan.manifest, records=records)


def _case_dict(case: Row, case_set: CaseSet) -> dict:
    return {
        "case_set": case_set.name,
        "case_key": case.case_key,
        "specialty": case.specialty,
        "incidence": case.incidence,
        "task": case.task,
        "vignette": case.vignette,
        "gold_diagnosis": case.gold_diagnosis,
        "synonyms": case.synonyms,
        "options": case.options,
        "attributes": case.attributes,
        "content_hash": case.content_hash,
    }


def _run_dict(run: Run, ordinal: int) -> dict:
    return {
        "ordinal": ordinal,
        "template_name": run.template_name,
        "template_version": run.template_version,
        "template_hash": run.template_hash,
        "repeats": run.repeats,
        "source": run.source,
        "status": run.status,
        "params": run.params,
        "meta": run.meta,
        "started_at": ts(run.started_at),
        "finished_at": ts(run.finished_at),
    }


def _sorted(items, key) -> list:
    return sorted(items, key=key) if len(items) > 1 else list(items)  # most lists hold one item or none


def _record(
    ctx: _Context,
    resp: Row,
    case: Row,
    grades: list[Row],
    annotations: list[tuple[Row, list[Row]]],
    assignments: list[Row],
    final: Row | None,
    signals: list[Row],
    details=_stored_details,
) -> dict:
    """One response's record from rows of its tables (Response, Case, Grade, ...: the same attribute names)."""
    refs, codebook = ctx.refs, ctx.codebook
    model = ctx.models[resp.model_id]
    run = ctx.runs[resp.run_id]
    case_set = ctx.case_sets[run.case_set_id]
    n, n_runs = ctx.ordinal[run.id]
    steps = split_trace(resp.trace)
    record: dict = {
        "key": response_key(model.name, case_set.name, case.case_key, resp.repeat, n, n_runs),
        "study": ctx.study.name,
        "codebook_version": codebook(ctx.study.codebook_version_id),
        "case": ctx.part("case", case.id, lambda: _case_dict(case, case_set)),
        "model": ctx.part("model", model.id, lambda: _model_dict(model, ctx.model_names, created=False)),
        "run": ctx.part("run", run.id, lambda: _run_dict(run, n)),
        "repeat": resp.repeat,
        "prompt": resp.prompt,
        "raw_output": resp.raw_output,
        "trace": resp.trace,
    }
    if steps is not None:
        record["steps"] = steps
    record.update(
        {
            "answer": resp.answer,
            "diagnoses": resp.diagnoses,
            "chosen_option": resp.chosen_option,
            "parse_ok": resp.parse_ok,
            "parse_error": resp.parse_error,
            "prompt_tokens": resp.prompt_tokens,
            "completion_tokens": resp.completion_tokens,
            "reasoning_tokens": resp.reasoning_tokens,
            "latency_s": resp.latency_s,
            "finish_reason": resp.finish_reason,
            "error": resp.error,
            "extra": resp.extra,
            "created_at": ts(resp.created_at),
        }
    )
    if ctx.effective is not None:
        record["grade"] = ctx.effective.get(resp.id)
    record["grades"] = _sorted(
        [
            {
                "correct": g.correct,
                "rank": g.rank,
                "k": g.k,
                "method": g.method,
                "score": g.score,
                "matched_diagnosis": g.matched_diagnosis,
                "status": g.status,
                "grader": refs.name_ref(g.grader),
                "annotator": refs.ref(g.annotator_id),
                "details": details(g),
                "created_at": ts(g.created_at),
            }
            for g in grades
        ],
        key=lambda g: (g["created_at"], g["status"], g["method"], g["grader"]),
    )
    anns = []
    for ann, events in annotations:
        entry = {
            "annotator": refs.ref(ann.annotator_id),
            "codebook_version": codebook(ann.codebook_version_id),
            "error_modes": list(ann.error_modes or []),
            "evidence": ann.evidence,
        }
        if steps is not None:
            entry["evidence_steps"] = [
                {"error_mode": mode, "step": step, "text": steps[step - 1] if 0 < step <= len(steps) else None}
                for mode, numbers in (ann.evidence or {}).items()
                for step in numbers
            ]
        entry.update(
            {
                "other_description": ann.other_description,
                "first_error_step": ann.first_error_step,
                "severity": ann.severity,
                "confidence": ann.confidence,
                "rationale": ann.rationale,
                "flagged": ann.flagged,
                "suggestion_shown": ann.suggestion_shown,
                "suggestion": ann.suggestion,
                "signals_shown": ann.signals_shown,
                "signals": ann.signals,
                "created_at": ts(ann.created_at),
                "updated_at": ts(ann.updated_at),
                "opened_at": ts(ann.opened_at),
                "saved_at": ts(ann.saved_at),
                "active_seconds": ann.active_seconds,
                "events": _sorted(
                    [
                        {
                            "annotator": refs.ref(ev.annotator_id),
                            "action": ev.action,
                            "before": refs.scrub(ev.before),
                            "after": refs.scrub(ev.after),
                            "at": ts(ev.at),
                        }
                        for ev in events
                    ],
                    key=lambda e: (e["at"], e["action"], natural_key(e["annotator"])),
                ),
            }
        )
        anns.append(entry)
    record["annotations"] = _sorted(anns, key=lambda a: (natural_key(a["annotator"]), a["created_at"]))
    record["assignments"] = _sorted(
        [
            {
                "annotator": refs.ref(a.annotator_id),
                "position": a.position,
                "status": a.status,
                "created_at": ts(a.created_at),
                "updated_at": ts(a.updated_at),
            }
            for a in assignments
        ],
        key=lambda a: natural_key(a["annotator"]),
    )
    record["final_label"] = (
        None
        if final is None
        else {
            "error_modes": list(final.error_modes or []),
            "first_error_step": final.first_error_step,
            "method": final.method,
            "adjudicator": refs.ref(final.adjudicator_id),
            "rationale": final.rationale,
            "codebook_version": codebook(final.codebook_version_id),
            "created_at": ts(final.created_at),
            "updated_at": ts(final.updated_at),
        }
    )
    if signals:
        record["signals"] = [_signal_dict(sig) for sig in signals]
    return record


def export_choices(session: Session, study_id: int | str) -> tuple[list[str], list[str]]:
    """The study's model names and case-set names, for the filters of an export form."""
    study = get_study(session, study_id)
    models = sorted(session.exec(select(Model.name).where(Model.study_id == study.id)).all())
    sets = session.exec(
        select(CaseSet.name).join(Run, Run.case_set_id == CaseSet.id).where(Run.study_id == study.id).distinct()
    ).all()
    return models, sorted(sets)
