"""Reading case files (JSONL, CSV) into validated CaseRecords. Pure but for read_case_file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from db.models import TASK_MULTIPLE_CHOICE
from pipeline._files import decode, iter_csv_rows, iter_jsonl_rows
from pipeline.cases._schema import (
    CANONICAL_FIELDS,
    LIST_SEPARATOR,
    REQUIRED_FIELDS,
    CaseMapping,
    CaseRecord,
    normalise_incidence,
    normalise_task,
)
from pipeline.errors import InputError, Problem

FORMATS = ("jsonl", "csv")


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    raise InputError(Problem(str(path), None, None, "unknown file type; use .jsonl or .csv"))


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value if v not in (None, ""))
    text = str(value).strip()
    return text or None


def _as_list(value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, list):
                return [str(v).strip() for v in parsed if str(v).strip()]
        except json.JSONDecodeError:
            pass
    return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


def row_to_case(row: dict, lineno: int, filename: str, mapping: CaseMapping) -> tuple[CaseRecord | None, list[Problem]]:
    """Validate one source row; return the case or the problems, each with file, line and field."""
    problems: list[Problem] = []

    def get(canonical: str) -> Any:
        return row.get(mapping.column(canonical))

    def where(canonical: str) -> str:
        col = mapping.column(canonical)
        return canonical if col == canonical else f"{canonical} (column {col!r})"

    values: dict[str, str | None] = {}
    for name in REQUIRED_FIELDS:
        values[name] = _as_text(get(name))
        if values[name] is None:
            problems.append(Problem(filename, lineno, where(name), "missing or empty"))

    incidence = _as_text(get("incidence"))
    if incidence is not None:
        canonical_incidence = normalise_incidence(incidence)
        if canonical_incidence is None:
            problems.append(
                Problem(
                    filename,
                    lineno,
                    where("incidence"),
                    f"unknown value {incidence!r}; use Frequent, Less Frequent or Rare",
                )
            )
        incidence = canonical_incidence

    task = mapping.task
    raw_task = _as_text(get("task"))
    if raw_task is not None:
        task = normalise_task(raw_task) or ""
        if not task:
            problems.append(
                Problem(
                    filename, lineno, where("task"), f"unknown task {raw_task!r}; use differential or multiple_choice"
                )
            )

    options = _as_list(get("options"))
    if task == TASK_MULTIPLE_CHOICE and (not options or len(options) < 2):
        problems.append(
            Problem(filename, lineno, where("options"), "a multiple-choice case needs at least two options")
        )
    synonyms = _as_list(get("synonyms")) or []

    if problems:
        return None, problems
    used = {mapping.column(name) for name in CANONICAL_FIELDS}
    keep = [c for c in row if c not in used] if mapping.keep == "*" else [c for c in mapping.keep if c in row]
    attributes = {c: row[c] for c in keep if row[c] not in (None, "")}
    return (
        CaseRecord(
            case_key=values["case_id"],  # type: ignore[arg-type]
            vignette=values["vignette"],  # type: ignore[arg-type]
            gold_diagnosis=values["gold_diagnosis"],  # type: ignore[arg-type]
            specialty=_as_text(get("specialty")),
            incidence=incidence,
            synonyms=tuple(synonyms),
            task=task,
            options=tuple(options) if options else None,
            attributes=attributes,
            line=lineno,
        ),
        [],
    )


def parse_cases(text: str, filename: str, fmt: str, mapping: CaseMapping) -> list[CaseRecord]:
    """Every case in a file, or an InputError listing every problem in it."""
    problems: list[Problem] = []
    rows = iter_jsonl_rows(text, filename, problems) if fmt == "jsonl" else iter_csv_rows(text, filename, problems)
    cases: list[CaseRecord] = []
    first_line: dict[str, int] = {}
    for lineno, row in rows:
        case, row_problems = row_to_case(row, lineno, filename, mapping)
        problems.extend(row_problems)
        if case is None:
            continue
        if case.case_key in first_line:
            problems.append(
                Problem(
                    filename,
                    lineno,
                    mapping.column("case_id"),
                    f"duplicate case id {case.case_key!r} (first on line {first_line[case.case_key]})",
                )
            )
            continue
        first_line[case.case_key] = lineno
        cases.append(case)
    if problems:
        raise InputError(problems)
    if not cases:
        raise InputError(Problem(filename, None, None, "no cases in the file"))
    return cases


def read_case_file(path: Path, mapping: CaseMapping, fmt: str | None = None) -> list[CaseRecord]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(Problem(str(path), None, None, f"cannot read: {exc.strerror or exc}")) from None
    fmt = fmt or detect_format(path)
    return parse_cases(decode(data, str(path)), str(path), fmt, mapping)
