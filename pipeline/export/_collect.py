"""Reading one study from the database into export records (one per response) and a manifest."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, select

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


def _signal_dict(sig: ErrorSignal) -> dict:
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


def collect_export(
    session: Session, study_id: int, filters: ExportFilters | None = None, *, pseudonymise: bool = True
) -> CollectedExport:
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

    rows = session.exec(
        select(Response, Case)
        .join(Run, Response.run_id == Run.id)
        .join(Case, Response.case_id == Case.id)
        .where(Run.study_id == study.id)
    ).all()

    grades: dict[int, list[Grade]] = defaultdict(list)
    for grade in session.exec(
        select(Grade)
        .join(Response, Grade.response_id == Response.id)
        .join(Run, Response.run_id == Run.id)
        .where(Run.study_id == study.id)
    ):
        grades[grade.response_id].append(grade)
    annotations: dict[int, list[Annotation]] = defaultdict(list)
    for ann in session.exec(select(Annotation).where(Annotation.study_id == study.id)):
        annotations[ann.response_id].append(ann)
    events: dict[int, list[AnnotationEvent]] = defaultdict(list)
    for event in session.exec(
        select(AnnotationEvent)
        .join(Annotation, AnnotationEvent.annotation_id == Annotation.id)
        .where(Annotation.study_id == study.id)
    ):
        events[event.annotation_id].append(event)
    assignments: dict[int, list[Assignment]] = defaultdict(list)
    for a in session.exec(select(Assignment).where(Assignment.study_id == study.id)):
        assignments[a.response_id].append(a)
    finals = {f.response_id: f for f in session.exec(select(FinalLabel).where(FinalLabel.study_id == study.id))}
    signals: dict[int, list[ErrorSignal]] = defaultdict(list)
    for sig in session.exec(select(ErrorSignal).where(ErrorSignal.study_id == study.id).order_by(ErrorSignal.signal)):
        signals[sig.response_id].append(sig)
    codebooks = {c.id: c for c in session.exec(select(CodebookVersion))}
    usernames = {a.id: a.username for a in session.exec(select(Annotator))}
    accounts = {a.id: a for a in session.exec(select(Annotator))}

    effective = effective_grade_map(session, study.id)
    if filters.correctness and effective is None:
        raise DxTraceError("the correctness filter needs the grading module (pipeline.accuracy), not installed")

    selected: list[tuple[Response, Case]] = []
    for resp, case in rows:
        model = models[resp.model_id]
        run = runs[resp.run_id]
        if filters.models and model.name not in filters.models:
            continue
        if filters.case_sets and case_sets[run.case_set_id].name not in filters.case_sets:
            continue
        if filters.correctness:
            eff = effective.get(resp.id) if effective else None
            state = correctness_of(eff["correct"] if eff else None, eff is not None)
            if state not in filters.correctness:
                continue
        if filters.adjudication:
            final = finals.get(resp.id)
            if (final.method if final else "unsettled") not in filters.adjudication:
                continue
        if filters.annotated_only and not annotations.get(resp.id):
            continue
        selected.append((resp, case))

    # Pseudonyms are numbered over the people this export mentions, in account order.
    people: set[int] = set()
    for resp, _case in selected:
        for g in grades.get(resp.id, []):
            if g.annotator_id is not None:
                people.add(g.annotator_id)
            people |= {i for i, name in usernames.items() if name == g.grader}
        for ann in annotations.get(resp.id, []):
            people.add(ann.annotator_id)
            for ev in events.get(ann.id, []):
                people.add(ev.annotator_id)
                people |= person_ids_in(ev.before, usernames) | person_ids_in(ev.after, usernames)
        for a in assignments.get(resp.id, []):
            people.add(a.annotator_id)
        final = finals.get(resp.id)
        if final and final.adjudicator_id is not None:
            people.add(final.adjudicator_id)
    refs = AnnotatorRefs.build(people, usernames, pseudonymise)
    refs.codebook_versions = {cid: c.version for cid, c in codebooks.items()}

    def codebook(cid: int | None) -> str | None:
        return codebooks[cid].version if cid is not None else None

    records = []
    used_codebooks: set[int] = set()
    for resp, case in selected:
        model = models[resp.model_id]
        run = runs[resp.run_id]
        case_set = case_sets[run.case_set_id]
        n, n_runs = ordinal[run.id]
        steps = split_trace(resp.trace)
        record: dict = {
            "key": response_key(model.name, case_set.name, case.case_key, resp.repeat, n, n_runs),
            "study": study.name,
            "codebook_version": codebook(study.codebook_version_id),
            "case": {
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
            },
            "model": _model_dict(model, model_names, created=False),
            "run": {
                "ordinal": n,
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
            },
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
        if effective is not None:
            record["grade"] = effective.get(resp.id)
        record["grades"] = sorted(
            (
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
                    "details": g.details,
                    "created_at": ts(g.created_at),
                }
                for g in grades.get(resp.id, [])
            ),
            key=lambda g: (g["created_at"], g["status"], g["method"], g["grader"]),
        )
        anns = []
        for ann in annotations.get(resp.id, []):
            used_codebooks.add(ann.codebook_version_id)
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
                    "events": sorted(
                        (
                            {
                                "annotator": refs.ref(ev.annotator_id),
                                "action": ev.action,
                                "before": refs.scrub(ev.before),
                                "after": refs.scrub(ev.after),
                                "at": ts(ev.at),
                            }
                            for ev in events.get(ann.id, [])
                        ),
                        key=lambda e: (e["at"], e["action"], natural_key(e["annotator"])),
                    ),
                }
            )
            anns.append(entry)
        record["annotations"] = sorted(anns, key=lambda a: (natural_key(a["annotator"]), a["created_at"]))
        record["assignments"] = sorted(
            (
                {
                    "annotator": refs.ref(a.annotator_id),
                    "position": a.position,
                    "status": a.status,
                    "created_at": ts(a.created_at),
                    "updated_at": ts(a.updated_at),
                }
                for a in assignments.get(resp.id, [])
            ),
            key=lambda a: natural_key(a["annotator"]),
        )
        final = finals.get(resp.id)
        if final is not None and final.codebook_version_id is not None:
            used_codebooks.add(final.codebook_version_id)
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
        if signals.get(resp.id):
            record["signals"] = [_signal_dict(sig) for sig in signals[resp.id]]
        records.append(record)

    records.sort(
        key=lambda r: (
            r["model"]["name"],
            r["case"]["case_set"],
            natural_key(r["case"]["case_key"]),
            r["repeat"],
            r["run"]["ordinal"],
        )
    )
    if study.codebook_version_id is not None:
        used_codebooks.add(study.codebook_version_id)
    used_sets = sorted({r["case"]["case_set"] for r in records} | {c.name for c in case_sets.values()})
    by_name = {c.name: c for c in case_sets.values()}

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
            "codebook_version": codebook(study.codebook_version_id),
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
            for c in (by_name[name] for name in used_sets)
        ],
        "codebooks": [
            {
                "version": codebooks[cid].version,
                "title": codebooks[cid].title,
                "error_modes": codebooks[cid].error_modes,
                "content_hash": codebooks[cid].content_hash,
                "created_at": ts(codebooks[cid].created_at),
            }
            for cid in sorted(used_codebooks, key=lambda c: natural_key(codebooks[c].version))
        ],
        "annotators": [
            {"ref": refs.ref_of[i], "role": accounts[i].role}
            | ({} if pseudonymise else {"display_name": accounts[i].display_name})
            for i in sorted(refs.ref_of)
        ],
        "pseudonymised": pseudonymise,
        "filters": filters.to_dict(),
        "counts": {
            "responses": len(records),
            "annotations": sum(len(r["annotations"]) for r in records),
            "final_labels": sum(1 for r in records if r["final_label"]),
            "annotators": len(refs.ref_of),
        },
    }
    return CollectedExport(manifest=manifest, records=records)


def export_choices(session: Session, study_id: int | str) -> tuple[list[str], list[str]]:
    """The study's model names and case-set names, for the filters of an export form."""
    study = get_study(session, study_id)
    models = sorted(session.exec(select(Model.name).where(Model.study_id == study.id)).all())
    sets = session.exec(
        select(CaseSet.name).join(Run, Run.case_set_id == CaseSet.id).where(Run.study_id == study.id).distinct()
    ).all()
    return models, sorted(sets)
