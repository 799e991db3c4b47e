"""Importing responses produced elsewhere (JSONL/CSV + a field mapping): all or nothing, idempotent."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from db.models import Case, Grade, Model, Response, Run, Study
from pipeline._fields import FieldPath, absent, kind_of, not_text, scalar_text
from pipeline._files import resolve_source
from pipeline.cases._read import reads_column
from pipeline.errors import InputError, Problem
from pipeline.generate._interop import ResponseFormat, detect_format, format_names, read_response_records
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
    format: str = "auto"  # "rows" (any row file), a tool's format (inspect, openai-batch), or "auto"

    def column(self, name: str) -> str | None:
        return self.fields.get(name)

    def with_fields(self, overrides: dict[str, str]) -> ResponseMapping:
        return ResponseMapping(**{**self.__dict__, "fields": {**self.fields, **overrides}})

    def model_info(self, name_in_file: str) -> ModelInfo:
        return self.models.get(name_in_file) or ModelInfo(name=name_in_file)


_SECTIONS: dict[str, set[str] | None] = {
    "responses": {"case_set", "model", "description", "attribution", "format"},
    "fields": None,  # checked against RESPONSE_FIELDS
    "models": None,  # one table per model name in the file
    "grade": {"grader"},
    "extra": {"keep"},
}


def _unknown(raw: dict, filename: str) -> list[Problem]:
    problems = []
    for section, table in raw.items():
        if section not in _SECTIONS:
            known = ", ".join(f"[{s}]" for s in _SECTIONS)
            problems.append(Problem(filename, None, section, f"unknown section; known: {known}"))
        elif not isinstance(table, dict):
            problems.append(Problem(filename, None, section, f"must be a table ([{section}])"))
        elif _SECTIONS[section] is not None:
            for key in sorted(set(table) - _SECTIONS[section]):
                known = ", ".join(sorted(_SECTIONS[section]))
                problems.append(Problem(filename, None, f"{section}.{key}", f"unknown key; known: {known}"))
    return problems


def parse_response_mapping(text: str, filename: str) -> ResponseMapping:
    """Parse a response mapping TOML (docs/generation.md); unknown sections and keys are errors."""
    raw = toml_loads(text, filename)
    problems = _unknown(raw, filename)
    raw = {k: v for k, v in raw.items() if isinstance(v, dict)}
    meta = raw.get("responses", {})
    fields = raw.get("fields", {})
    if not all(isinstance(v, str) and v.strip() for v in fields.values()):
        problems.append(Problem(filename, None, "fields", 'must be a table of field = "source column"'))
        fields = {}
    for key in fields:
        if key not in RESPONSE_FIELDS:
            problems.append(
                Problem(filename, None, f"fields.{key}", f"unknown field; known: {', '.join(RESPONSE_FIELDS)}")
            )
    fmt = meta.get("format", "auto")
    if fmt not in ("auto", *format_names()):
        problems.append(Problem(filename, None, "responses.format", f"must be auto, {', '.join(format_names())}"))
    # A tool's log (Inspect, OpenAI batch) brings its own fields; a plain row file must name them.
    if fmt == "rows" and "output" not in fields and "answer" not in fields:
        problems.append(Problem(filename, None, "fields", "map `output` (the raw text) or `answer`"))
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
        format=fmt,
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


_TEXT_FIELDS = ("case_id", "model", "output", "answer", "trace")


def _field_paths(mapping: ResponseMapping, fmt: ResponseFormat | None, filename: str) -> dict[str, FieldPath]:
    """Where each field is read: the tool format's defaults, overridden by the mapping; --model wins over a column."""
    fields = {**(fmt.fields if fmt else {}), **mapping.fields}
    if mapping.model and "model" not in mapping.fields:
        fields.pop("model", None)
    where = mapping.source or filename
    if "case_id" not in fields:
        raise InputError(Problem(where, None, "fields.case_id", "required: the column holding the case id"))
    if "output" not in fields and "answer" not in fields:
        raise InputError(Problem(where, None, "fields", "map `output` (the raw text) or `answer`"))
    if "model" not in fields and not mapping.model:
        raise InputError(Problem(where, None, "fields.model", "map the model column, or name it (--model NAME)"))
    return {name: FieldPath.of(name, spec) for name, spec in fields.items()}


def _value(
    paths: dict[str, FieldPath], name: str, row: dict, filename: str, line: int, problems: list[Problem]
) -> tuple[bool, Any]:
    """(mapped, value) of a field; a dict or list on a text field is a problem, never its printout."""
    path = paths.get(name)
    if path is None:
        return False, None
    value = path.get(row)
    if name in _TEXT_FIELDS and kind_of(value):
        problems.append(not_text(path, value, filename, line))
        return True, None
    if name in _TEXT_FIELDS and value is not None and not isinstance(value, str):
        value = scalar_text(value)
    return True, value


def _read_row(
    row: dict,
    lineno: int,
    filename: str,
    paths: dict[str, FieldPath],
    mapping: ResponseMapping,
    cases: dict[str, Case],
    set_name: str,
    problems: list[Problem],
) -> _Row | None:
    """One response of the file, validated; its problems are added to `problems`."""
    mine: list[Problem] = []

    def get(name: str) -> tuple[bool, Any]:
        return _value(paths, name, row, filename, lineno, mine)

    where = {name: p.where for name, p in paths.items()}
    _, key = get("case_id")
    case = None
    if key is not None and str(key).strip():
        case = cases.get(str(key).strip())
        if case is None:
            mine.append(Problem(filename, lineno, where["case_id"], f"no case {key!r} in case set {set_name!r}"))
    elif not any(p.field and p.field.startswith("case_id") for p in mine):
        mine.append(Problem(filename, lineno, where["case_id"], "missing or empty"))
    has_model, model = get("model")
    if not has_model:
        model = mapping.model
    elif not (model or "").strip() and not any(p.field and p.field.startswith("model") for p in mine):
        mine.append(Problem(filename, lineno, where["model"], "missing or empty; or name the model with --model"))
    has_output, raw = get("output")
    has_answer, answer = get("answer")
    _, trace = get("trace")
    reported = {p.field.split(" ")[0] for p in mine if p.field}
    if has_output and raw is None and "output" not in reported:
        mine.append(Problem(filename, lineno, where["output"], 'missing or null; use "" for an empty output'))
    if not has_output and has_answer and answer is None and "answer" not in reported:
        mine.append(Problem(filename, lineno, where["answer"], 'missing or null; use "" for an empty answer'))
    _, raw_correct = get("correct")
    correct = None
    if raw_correct not in (None, ""):
        correct = _bool(raw_correct)
        if correct is None:
            mine.append(Problem(filename, lineno, where["correct"], f"{raw_correct!r} is not true/false"))
    _, raw_repeat = get("repeat")
    repeat = 0
    if raw_repeat not in (None, ""):
        try:
            repeat = int(raw_repeat)
            if repeat < 0 or isinstance(raw_repeat, bool) or float(raw_repeat) != repeat:
                raise ValueError
        except (TypeError, ValueError):
            mine.append(Problem(filename, lineno, where["repeat"], f"{raw_repeat!r} is not a whole number >= 0"))
    problems.extend(mine)
    if mine or case is None or not model:
        return None
    return _Row(lineno, str(model).strip(), case, repeat, raw, trace, answer, correct, {})


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
    fmt = detect_format(path, data, mapping.format)
    paths = _field_paths(mapping, fmt, filename)
    target = ensure_case_set(session, set_name)
    cases = cases_by_key(session, target)

    problems: list[Problem] = []
    rows = read_response_records(path, data, fmt, problems)
    records = [r for _, r in rows]
    missing = [absent(p, records, filename) for p in paths.values() if records and not p.found_in(records)]
    if missing:  # one error per absent column, not one per row
        raise InputError(problems + missing)
    parsed: list[_Row] = []
    first_seen: dict[tuple[str, str, int], int] = {}
    specs = [p.spec for p in paths.values()]
    for lineno, row in rows:
        r = _read_row(row, lineno, filename, paths, mapping, cases, set_name, problems)
        if r is None:
            continue
        ident = (r.model, r.case.case_key, r.repeat)
        if ident in first_seen:
            problems.append(
                Problem(
                    filename,
                    lineno,
                    None,
                    f"duplicate response of {r.model!r} on case {r.case.case_key!r} (first on line {first_seen[ident]})",
                )
            )
            continue
        first_seen[ident] = lineno
        if mapping.keep == "*":
            keep = [c for c in row if not any(reads_column(spec, c) for spec in specs)]
        else:
            keep = [c for c in mapping.keep if c in row]
        extra = {c: row[c] for c in keep if row[c] is not None}
        if fmt is not None and row.get("error"):  # a failed request in a tool's log: kept, with why
            extra["error"] = row["error"]
        parsed.append(replace(r, extra=extra))
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
