"""Importing responses produced elsewhere (JSONL/CSV + a field mapping): all or nothing, idempotent."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from db.models import Case, Grade, Model, Response, Run, Study
from pipeline._files import decode, iter_rows, resolve_source
from pipeline.errors import InputError, Problem
from pipeline.generate._record import cases_by_key, ensure_case_set, parse_output
from pipeline.generate._toml import loads as toml_loads

RESPONSES_DIR = Path(__file__).resolve().parents[2] / "data" / "responses"
MAPPING_FILE = "mapping.toml"
RESPONSE_FIELDS = ("case_id", "model", "output", "trace", "answer", "correct", "repeat")
_TRUE = {"true", "1", "yes", "y", "correct", "t"}
_FALSE = {"false", "0", "no", "n", "incorrect", "wrong", "f"}


@dataclass(frozen=True)
class ModelInfo:
    """How a model named in the file enters the study."""

    name: str
    reasoning: bool = False
    paired_with: str | None = None  # the base model's name, on a reasoning model


@dataclass(frozen=True)
class ResponseMapping:
    """How a response file's columns map onto responses (data/responses/<set>/mapping.toml).

    fields: canonical name -> source column; `output` (the raw text) or `answer` is required.
    model: the model's name when the file has no model column.
    """

    case_set: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    model: str | None = None
    models: dict[str, ModelInfo] = field(default_factory=dict)  # keyed by the name in the file
    grader: str = "imported"
    keep: tuple[str, ...] | str = ()
    description: str | None = None
    attribution: str | None = None
    source: str | None = None  # where the mapping came from, for messages

    def column(self, name: str) -> str | None:
        return self.fields.get(name)

    def with_fields(self, overrides: dict[str, str]) -> ResponseMapping:
        return ResponseMapping(**{**self.__dict__, "fields": {**self.fields, **overrides}})

    def model_info(self, name_in_file: str) -> ModelInfo:
        return self.models.get(name_in_file) or ModelInfo(name=name_in_file)


def parse_response_mapping(text: str, filename: str) -> ResponseMapping:
    raw = toml_loads(text, filename)
    problems: list[Problem] = []
    meta = raw.get("responses", {})
    fields = raw.get("fields", {})
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        problems.append(Problem(filename, None, "fields", 'must be a table of field = "source column"'))
        fields = {}
    for key in fields:
        if key not in RESPONSE_FIELDS:
            problems.append(
                Problem(filename, None, f"fields.{key}", f"unknown field; known: {', '.join(RESPONSE_FIELDS)}")
            )
    if "output" not in fields and "answer" not in fields:
        problems.append(Problem(filename, None, "fields", "map `output` (the raw text) or `answer`"))
    if "case_id" not in fields:
        problems.append(Problem(filename, None, "fields.case_id", "required: the column holding the case id"))
    if "model" not in fields and not meta.get("model"):
        problems.append(Problem(filename, None, "fields.model", "map the model column, or set responses.model"))
    models: dict[str, ModelInfo] = {}
    for key, info in (raw.get("models") or {}).items():
        if not isinstance(info, dict):
            problems.append(Problem(filename, None, f"models.{key}", "must be a table: {name, reasoning, paired_with}"))
            continue
        unknown = set(info) - {"name", "reasoning", "paired_with"}
        if unknown:
            problems.append(Problem(filename, None, f"models.{key}", f"unknown key(s) {', '.join(sorted(unknown))}"))
        if "reasoning" in info and not isinstance(info["reasoning"], bool):
            problems.append(Problem(filename, None, f"models.{key}.reasoning", "must be true or false"))
        models[key] = ModelInfo(
            name=str(info.get("name", key)),
            reasoning=bool(info.get("reasoning", False)),
            paired_with=info.get("paired_with"),
        )
    keep = raw.get("extra", {}).get("keep", [])
    if not (keep == "*" or (isinstance(keep, list) and all(isinstance(k, str) for k in keep))):
        problems.append(Problem(filename, None, "extra.keep", 'must be "*" or a list of column names'))
        keep = []
    if problems:
        raise InputError(problems)
    return ResponseMapping(
        case_set=meta.get("case_set"),
        fields=dict(fields),
        model=meta.get("model"),
        models=models,
        grader=str(raw.get("grade", {}).get("grader", "imported")),
        keep=keep if keep == "*" else tuple(keep),
        description=meta.get("description"),
        attribution=meta.get("attribution"),
        source=filename,
    )


def load_response_mapping(path: Path) -> ResponseMapping:
    try:
        return parse_response_mapping(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), None, None, f"cannot read mapping: {exc}")) from None


def shipped_response_sets() -> list[str]:
    return sorted(p.name for p in RESPONSES_DIR.iterdir() if (p / MAPPING_FILE).exists())


def resolve_response_source(source: str | Path) -> tuple[Path, Path | None]:
    """A response file and its mapping from a file path, a folder, or a shipped set's name."""
    return resolve_source(source, RESPONSES_DIR, MAPPING_FILE, "response set", shipped_response_sets)


# --------------------------------------------------------------------------- reading rows


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


@dataclass(frozen=True)
class _Row:
    line: int
    model: str
    case: Case
    repeat: int
    raw: str | None
    trace: str | None
    answer: str | None
    correct: bool | None
    extra: dict


@dataclass
class ResponseImportReport:
    study: str
    source: str
    rows: int = 0
    added: int = 0
    already_present: int = 0
    parse_failures: int = 0
    grades: int = 0
    by_model: Counter = field(default_factory=Counter)
    diagnoses_found: Counter = field(default_factory=Counter)  # number of diagnoses -> responses
    models_created: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.source}: {self.rows} rows", f"{self.added} responses added"]
        if self.already_present:
            parts.append(f"{self.already_present} already present")
        parts.append(f"{self.parse_failures} parse failures (kept, flagged)")
        if self.grades:
            parts.append(f"{self.grades} imported grades")
        return ", ".join(parts)


def import_responses(
    session: Session,
    *,
    study: Study,
    path: Path,
    mapping: ResponseMapping,
    case_set: str | None = None,
    k: int = 5,
) -> ResponseImportReport:
    """Add the file's responses to `study` in the caller's transaction.

    Every row is validated first; any problem (file, line, field) raises InputError
    and nothing is written. Rows already imported are skipped, so importing a file
    twice adds nothing. Raw text is always kept; an answer the parser cannot read
    is stored with parse_ok=False and a parse_error.
    """
    filename = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(Problem(filename, None, None, f"cannot read: {exc.strerror or exc}")) from None
    set_name = case_set or mapping.case_set
    if not set_name:
        raise InputError(Problem(filename, None, "case_set", "name the case set (--case-set or responses.case_set)"))
    target = ensure_case_set(session, set_name)
    cases = cases_by_key(session, target)

    problems: list[Problem] = []
    rows = list(iter_rows(decode(data, filename), filename, problems))
    parsed: list[_Row] = []
    first_seen: dict[tuple[str, str, int], int] = {}
    col = mapping.column
    for lineno, row in rows:
        row_problems: list[Problem] = []

        def need(name: str, *, row=row, lineno=lineno, row_problems=row_problems) -> Any:
            column = col(name)
            if column is None:
                return None
            if column not in row:
                row_problems.append(Problem(filename, lineno, f"{name} (column {column!r})", "missing"))
                return None
            return row[column]

        key = _text(need("case_id"))
        case = None
        if key is not None and key.strip():
            case = cases.get(key.strip())
            if case is None:
                row_problems.append(
                    Problem(
                        filename,
                        lineno,
                        f"case_id (column {col('case_id')!r})",
                        f"no case {key!r} in case set {set_name!r}",
                    )
                )
        elif col("case_id") in row:
            row_problems.append(Problem(filename, lineno, f"case_id (column {col('case_id')!r})", "empty"))
        model = _text(need("model")) if col("model") else mapping.model
        if col("model") and col("model") in row and not (model or "").strip():
            row_problems.append(Problem(filename, lineno, f"model (column {col('model')!r})", "empty"))
        raw = _text(need("output"))
        answer = _text(need("answer"))
        trace = _text(need("trace"))
        if col("output") and col("output") in row and raw is None:
            row_problems.append(
                Problem(filename, lineno, f"output (column {col('output')!r})", 'null; use "" for an empty output')
            )
        if not col("output") and col("answer") in row and answer is None:
            row_problems.append(
                Problem(filename, lineno, f"answer (column {col('answer')!r})", 'null; use "" for an empty answer')
            )
        correct = None
        if col("correct") and col("correct") in row and row[col("correct")] not in (None, ""):
            correct = _bool(row[col("correct")])
            if correct is None:
                row_problems.append(
                    Problem(
                        filename,
                        lineno,
                        f"correct (column {col('correct')!r})",
                        f"{row[col('correct')]!r} is not true/false",
                    )
                )
        repeat = 0
        if col("repeat") and row.get(col("repeat")) not in (None, ""):
            try:
                repeat = int(row[col("repeat")])
                if repeat < 0:
                    raise ValueError
            except (TypeError, ValueError):
                row_problems.append(
                    Problem(
                        filename,
                        lineno,
                        f"repeat (column {col('repeat')!r})",
                        f"{row[col('repeat')]!r} is not a whole number >= 0",
                    )
                )
        if row_problems or case is None or not model:
            problems.extend(row_problems)
            continue
        ident = (model, case.case_key, repeat)
        if ident in first_seen:
            problems.append(
                Problem(
                    filename,
                    lineno,
                    None,
                    f"duplicate response of {model!r} on case {case.case_key!r} (first on line {first_seen[ident]})",
                )
            )
            continue
        first_seen[ident] = lineno
        used = {c for c in mapping.fields.values()}
        keep = [c for c in row if c not in used] if mapping.keep == "*" else [c for c in mapping.keep if c in row]
        parsed.append(_Row(lineno, model.strip(), case, repeat, raw, trace, answer, correct, {c: row[c] for c in keep}))
    if problems:
        raise InputError(problems)
    if not parsed:
        raise InputError(Problem(filename, None, None, "no responses in the file"))

    report = ResponseImportReport(study=study.name, source=filename, rows=len(parsed))
    file_hash = hashlib.sha256(data).hexdigest()
    runs: dict[str, Run] = {}
    models: dict[str, Model] = {}
    for name_in_file in sorted({r.model for r in parsed}):
        info = mapping.model_info(name_in_file)
        model = session.exec(select(Model).where(Model.study_id == study.id, Model.name == info.name)).first()
        if model is None:
            model = Model(
                study_id=study.id, name=info.name, backend="import", model_id=name_in_file, is_reasoning=info.reasoning
            )
            session.add(model)
            session.flush()
            report.models_created.append(info.name)
        models[name_in_file] = model
        run = session.exec(
            select(Run).where(
                Run.study_id == study.id,
                Run.model_id == model.id,
                Run.case_set_id == target.id,
                Run.source == "imported",
            )
        ).first()
        if run is None:
            run = Run(
                study_id=study.id,
                model_id=model.id,
                case_set_id=target.id,
                source="imported",
                status="complete",
                meta={
                    "file": path.name,
                    "sha256": file_hash,
                    "mapping": mapping.source,
                    "attribution": mapping.attribution,
                },
            )
            session.add(run)
            session.flush()
        runs[name_in_file] = run
    # Pairs: a reasoning model names its base model, which may come from this file or the study file.
    for name_in_file, model in models.items():
        partner = mapping.model_info(name_in_file).paired_with
        if partner and model.paired_model_id is None:
            base = session.exec(select(Model).where(Model.study_id == study.id, Model.name == partner)).first()
            if base is not None:
                model.paired_model_id = base.id
                session.add(model)

    existing: set[tuple[int, int, int]] = set()
    for run in runs.values():
        for case_id, rep in session.exec(select(Response.case_id, Response.repeat).where(Response.run_id == run.id)):
            existing.add((run.id, case_id, rep))
    for r in parsed:
        run = runs[r.model]
        if (run.id, r.case.id, r.repeat) in existing:
            report.already_present += 1
            continue
        out = parse_output(r.raw, task=r.case.task, options=r.case.options, trace=r.trace, answer=r.answer, k=k)
        response = Response(
            run_id=run.id,
            case_id=r.case.id,
            model_id=run.model_id,
            repeat=r.repeat,
            prompt=None,  # produced elsewhere: the prompt is not known
            raw_output=r.raw if r.raw is not None else r.answer,
            trace=out.trace,
            answer=out.answer,
            diagnoses=out.diagnoses,
            chosen_option=out.chosen_option,
            parse_ok=out.parse_ok,
            parse_error=out.parse_error,
            parse_reader=out.reader,
            answer_shape=out.shape,
            extra={"source_file": path.name, "source_line": r.line, **r.extra},
        )
        session.add(response)
        report.added += 1
        report.by_model[models[r.model].name] += 1
        report.parse_failures += 0 if out.parse_ok else 1
        if out.diagnoses is not None:
            report.diagnoses_found[len(out.diagnoses)] += 1
        if r.correct is not None:
            session.flush()
            session.add(
                Grade(
                    response_id=response.id,
                    correct=r.correct,
                    method="imported",
                    grader=mapping.grader,
                    status="auto",
                    k=k,
                    details={"source_file": path.name, "source_line": r.line},
                )
            )
            report.grades += 1
    session.flush()
    return report
