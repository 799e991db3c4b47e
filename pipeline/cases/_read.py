"""Reading case files (JSONL, .json array, CSV/TSV, Parquet) into validated CaseRecords.

Pure but for read_case_file. A mapping names where each field is (a column or a JMESPath
expression), may build the vignette from several fields, may generate ids, and reads
multiple-choice options from a list, a delimited string or a list of objects with a "correct" flag.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateError

from db.models import TASK_MULTIPLE_CHOICE
from pipeline._fields import FieldPath, absent, kind_of, not_text, scalar_text
from pipeline._files import read_records
from pipeline.cases._schema import (
    CANONICAL_FIELDS,
    REQUIRED_FIELDS,
    CaseMapping,
    CaseRecord,
    normalise_incidence,
    normalise_task,
)
from pipeline.cases._template import NotText, render_sections, render_template
from pipeline.errors import InputError, Problem


@dataclass(frozen=True)
class _Paths:
    fields: dict[str, FieldPath]
    sections: tuple[tuple[str, FieldPath], ...]

    def __getitem__(self, canonical: str) -> FieldPath:
        return self.fields[canonical]


def _paths(mapping: CaseMapping) -> _Paths:
    fields = {name: FieldPath.of(name, mapping.column(name)) for name in CANONICAL_FIELDS}
    sections = tuple((s.heading, FieldPath.of("vignette", s.field)) for s in mapping.vignette_sections)
    return _Paths(fields, sections)


def reads_column(spec: str, column: str) -> bool:
    """Whether a field path reads a top-level column (`patient.history` reads `patient`, not `history`)."""
    if spec == column:
        return True
    return re.search(rf'(?<![\w.@"]){re.escape(column)}(?![\w"])|"{re.escape(column)}"', spec) is not None


def _builds_vignette(mapping: CaseMapping) -> bool:
    return bool(mapping.vignette_template or mapping.vignette_sections)


def _flagged_options(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(o, dict) for o in value)


def _missing_columns(paths: _Paths, rows: list[dict], filename: str, mapping: CaseMapping) -> list[Problem]:
    """One problem per mapped field that no record has (not one per row)."""
    checks: list[tuple[FieldPath, str]] = []
    for name in CANONICAL_FIELDS:
        path = paths[name]
        required = name in REQUIRED_FIELDS
        if name == "case_id" and mapping.id_prefix is not None:
            continue
        if name == "vignette" and _builds_vignette(mapping):
            continue
        gold_from_options = any(_flagged_options(paths["options"].get(r)) for r in rows)
        if name == "gold_diagnosis" and not mapping.mapped(name) and gold_from_options:
            continue
        if mapping.mapped(name) or required:
            hint = '; or generate ids with [ids] prefix = "..."' if name == "case_id" else ""
            checks.append((path, hint))
    checks.extend((path, "") for _, path in paths.sections)
    return [absent(path, rows, filename, hint) for path, hint in checks if not path.found_in(rows)]


# ------------------------------------------------------------------------- values


def _text(path: FieldPath, row: dict, filename: str, line: int, problems: list[Problem]) -> str | None:
    value = path.get(row)
    if kind_of(value):
        problems.append(not_text(path, value, filename, line))
        return None
    return scalar_text(value)


def split_delimited(text: str, separator: str, keep_whole: str | None = None) -> list[str]:
    """Split a delimited list, never inside brackets; `keep_whole` (the gold) is kept as one item when the
    text holds it between separators, since a delimited cell cannot escape a separator inside a name."""
    protected = None
    if keep_whole and keep_whole in text:
        for m in re.finditer(re.escape(keep_whole), text):
            before, after = text[: m.start()].rstrip(), text[m.end() :].lstrip()
            if (not before or before.endswith(separator)) and (not after or after.startswith(separator)):
                protected = (m.start(), m.end())
                break
    parts, current, depth, i = [], [], 0, 0
    while i < len(text):
        if protected and i == protected[0]:
            current.append(text[protected[0] : protected[1]])
            i = protected[1]
            continue
        c = text[i]
        depth += c in "([{"
        depth -= c in ")]}" and depth > 0
        if depth == 0 and text.startswith(separator, i):
            parts.append("".join(current))
            current, i = [], i + len(separator)
            continue
        current.append(c)
        i += 1
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _as_list(value: Any, separator: str, keep_whole: str | None = None) -> list | None:
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple):
        return list(value)
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, list):
                return parsed
        except json.JSONDecodeError:
            pass
    return split_delimited(text, separator, keep_whole)


def _strings(items: list, path: FieldPath, filename: str, line: int, problems: list[Problem]) -> list[str]:
    out = []
    for item in items:
        if kind_of(item):
            problems.append(Problem(filename, line, path.where, f"an item is {kind_of(item)}, not text"))
            continue
        text = scalar_text(item)
        if text:
            out.append(text)
    return out


def _options(
    row: dict, paths: _Paths, mapping: CaseMapping, gold: str | None, filename: str, line: int, problems: list[Problem]
) -> tuple[list[str] | None, list[str], list[str]]:
    """The options, the texts of those flagged correct (options as objects), and each option's key:
    its key in an object of options ({"A": "...", "B": "..."}), else its letter A, B, ..."""
    path = paths["options"]
    raw = path.get(row)
    if isinstance(raw, dict):
        keys = [str(k).strip() for k in raw]
        return _strings(list(raw.values()), path, filename, line, problems), [], keys
    items = _as_list(raw, mapping.options_separator, gold if mapping.option_gold == "text" else None)
    if items is None:
        return None, [], []
    letters = [chr(65 + i) if i < 26 else str(i + 1) for i in range(len(items))]
    if not _flagged_options(items):
        return _strings(items, path, filename, line, problems), [], letters
    texts, flagged = [], []
    for n, item in enumerate(items, start=1):
        text = item.get(mapping.option_text) if isinstance(item, dict) else None
        if kind_of(text) or scalar_text(text) is None:
            problems.append(
                Problem(filename, line, path.where, f"option {n} has no text under {mapping.option_text!r}")
            )
            continue
        texts.append(scalar_text(text))
        if item.get(mapping.option_correct) in (True, 1, "true", "True", "yes", "1"):
            flagged.append(scalar_text(text))
    return texts, flagged, letters


def _gold_by_reference(
    gold: str, options: list[str], keys: list[str], how: str, filename: str, line: int, problems: list[Problem]
) -> str | None:
    """The option a gold names by key/letter ("key") or by position ("index0", "index1")."""
    if how == "key":
        found = [o for k, o in zip(keys, options, strict=False) if k.casefold() == gold.casefold()]
        if len(found) == 1:
            return found[0]
        problems.append(
            Problem(filename, line, "gold_diagnosis", f"{gold!r} is not one of the options' keys ({', '.join(keys)})")
        )
        return None
    try:
        index = int(float(gold)) - (1 if how == "index1" else 0)
        if float(gold) != int(float(gold)) or not 0 <= index < len(options):
            raise ValueError
        return options[index]
    except ValueError:
        first = 1 if how == "index1" else 0
        problems.append(
            Problem(
                filename,
                line,
                "gold_diagnosis",
                f"{gold!r} is not an option number from {first} to {len(options) - 1 + first} (options.gold = {how!r})",
            )
        )
        return None


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _check_choice(
    gold: str, options: list[str], path: FieldPath, filename: str, line: int, problems: list[Problem]
) -> None:
    if len(options) < 2:
        problems.append(Problem(filename, line, path.where, "a multiple-choice case needs at least two options"))
        return
    folded = [_fold(o) for o in options]
    dupes = sorted({o for o in options if folded.count(_fold(o)) > 1})
    if dupes:
        problems.append(Problem(filename, line, path.where, f"option given twice: {dupes[0]!r}"))
    matches = folded.count(_fold(gold))
    if matches == 0:
        hint = ""
        if len(gold) <= 2:  # a letter or a number: the gold names its option
            hint = '; if it names the option by key or letter, set [options] gold = "key" (or "index0"/"index1")'
        problems.append(
            Problem(
                filename,
                line,
                "gold_diagnosis",
                f"{gold!r} is not one of the case's options ({'; '.join(options)}); "
                f"a multiple-choice gold must be exactly one option{hint}",
            )
        )


# ------------------------------------------------------------------------- one row


def _vignette(
    row: dict, paths: _Paths, mapping: CaseMapping, filename: str, line: int, problems: list[Problem]
) -> str | None:
    if mapping.vignette_template:
        try:
            return render_template(mapping.vignette_template, row) or None
        except NotText as exc:
            problems.append(Problem(filename, line, "vignette (template)", str(exc)))
        except TemplateError as exc:
            problems.append(Problem(filename, line, "vignette (template)", f"{type(exc).__name__}: {exc}"))
        return None
    if mapping.vignette_sections:
        text, bad = render_sections(paths.sections, row)
        problems.extend(not_text(path, value, filename, line) for path, value in bad)
        return text or None
    return _text(paths["vignette"], row, filename, line, problems)


def _task(row: dict, paths: _Paths, mapping: CaseMapping, filename: str, line: int, problems: list[Problem]) -> str:
    raw = _text(paths["task"], row, filename, line, problems)
    if raw is None:
        return mapping.task
    task = normalise_task(raw)
    if task is None:
        problems.append(
            Problem(filename, line, paths["task"].where, f"unknown task {raw!r}; use differential or multiple_choice")
        )
    return task or mapping.task


def _incidence(row: dict, paths: _Paths, filename: str, line: int, problems: list[Problem]) -> str | None:
    raw = _text(paths["incidence"], row, filename, line, problems)
    if raw is None:
        return None
    incidence = normalise_incidence(raw)
    if incidence is None:
        problems.append(
            Problem(
                filename, line, paths["incidence"].where, f"unknown value {raw!r}; use Frequent, Less Frequent or Rare"
            )
        )
    return incidence


def _specialty(row: dict, paths: _Paths) -> str | None:
    """A list of specialties (e.g. body systems) is joined with '; ', as documented."""
    value = paths["specialty"].get(row)
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value if v not in (None, "") and not kind_of(v))
    return None if kind_of(value) else scalar_text(value)


def _attributes(row: dict, mapping: CaseMapping, paths: _Paths) -> dict:
    specs = [p.spec for p in paths.fields.values()] + [p.spec for _, p in paths.sections]
    if mapping.keep == "*":
        keep = [c for c in row if not any(reads_column(spec, c) for spec in specs)]
    else:
        keep = [c for c in mapping.keep if c in row]
    return {c: row[c] for c in keep if row[c] not in (None, "")}


def row_to_case(
    row: dict, index: int, line: int, filename: str, mapping: CaseMapping, paths: _Paths | None = None
) -> tuple[CaseRecord | None, list[Problem]]:
    """Validate one source record (the index-th, on `line`); return the case or its problems."""
    paths = paths or _paths(mapping)
    problems: list[Problem] = []
    if mapping.id_prefix is not None:
        case_id = f"{mapping.id_prefix}{index}"
    else:
        case_id = _text(paths["case_id"], row, filename, line, problems)
    vignette = _vignette(row, paths, mapping, filename, line, problems)
    gold = _text(paths["gold_diagnosis"], row, filename, line, problems)
    options, flagged, keys = _options(row, paths, mapping, gold, filename, line, problems)
    if gold is not None and options and mapping.option_gold != "text":
        gold = _gold_by_reference(gold, options, keys, mapping.option_gold, filename, line, problems)
    # Options as objects: the flagged one is the gold, unless the gold is given and none is flagged.
    gold_from_options = options is not None and _flagged_options(paths["options"].get(row)) and (flagged or not gold)
    if gold_from_options:
        if len(flagged) != 1:
            problems.append(
                Problem(
                    filename,
                    line,
                    paths["options"].where,
                    f"{len(flagged)} options are flagged {mapping.option_correct!r}; exactly one must be",
                )
            )
        elif gold is None:
            gold = flagged[0]
        elif _fold(gold) != _fold(flagged[0]):
            problems.append(
                Problem(
                    filename, line, "gold_diagnosis", f"{gold!r} is not the option flagged correct ({flagged[0]!r})"
                )
            )
    for name, value in (("case_id", case_id), ("vignette", vignette), ("gold_diagnosis", gold)):
        reported = any(p.line == line and p.field and p.field.startswith(name) for p in problems)
        if value is None and not reported and not (name == "gold_diagnosis" and gold_from_options):
            where = "vignette (template)" if name == "vignette" and _builds_vignette(mapping) else paths[name].where
            problems.append(Problem(filename, line, where, "missing or empty"))
    task = _task(row, paths, mapping, filename, line, problems)
    if task == TASK_MULTIPLE_CHOICE and not options:
        problems.append(
            Problem(filename, line, paths["options"].where, "a multiple-choice case needs at least two options")
        )
    elif task == TASK_MULTIPLE_CHOICE and gold is not None:
        _check_choice(gold, options, paths["options"], filename, line, problems)
    elif task != TASK_MULTIPLE_CHOICE and options:
        problems.append(
            Problem(
                filename,
                line,
                paths["options"].where,
                "options are given but the task is differential; "
                'set [case_set] task = "multiple_choice" (or --task multiple_choice), or unmap the options',
            )
        )
    incidence = _incidence(row, paths, filename, line, problems)
    synonyms = _strings(_as_list(paths["synonyms"].get(row), "|") or [], paths["synonyms"], filename, line, problems)
    if problems:
        return None, problems
    return (
        CaseRecord(
            case_key=case_id,  # type: ignore[arg-type]
            vignette=vignette,  # type: ignore[arg-type]
            gold_diagnosis=gold,  # type: ignore[arg-type]
            specialty=_specialty(row, paths),
            incidence=incidence,
            synonyms=tuple(synonyms),
            task=task,
            options=tuple(options) if task == TASK_MULTIPLE_CHOICE and options else None,
            attributes=_attributes(row, mapping, paths),
            line=line,
        ),
        [],
    )


def build_cases(
    rows: list[tuple[int, dict]], filename: str, mapping: CaseMapping, problems: list[Problem] | None = None
) -> list[CaseRecord]:
    """Every case of the records, or an InputError listing every problem."""
    problems = list(problems or [])
    paths = _paths(mapping)
    records = [r for _, r in rows]
    if records:
        missing = _missing_columns(paths, records, filename, mapping)
        if missing:  # one error per absent column, not one per row
            raise InputError(problems + missing)
    cases: list[CaseRecord] = []
    first_line: dict[str, int] = {}
    for index, (line, row) in enumerate(rows, start=1):
        case, row_problems = row_to_case(row, index, line, filename, mapping, paths)
        problems.extend(row_problems)
        if case is None:
            continue
        if case.case_key in first_line:
            problems.append(
                Problem(
                    filename,
                    line,
                    paths["case_id"].where,
                    f"duplicate case id {case.case_key!r} (first on line {first_line[case.case_key]})",
                )
            )
            continue
        first_line[case.case_key] = line
        cases.append(case)
    if problems:
        raise InputError(problems)
    if not cases:
        raise InputError(Problem(filename, None, None, "no cases in the file"))
    return cases


def read_case_file(path: Path, mapping: CaseMapping) -> list[CaseRecord]:
    problems: list[Problem] = []
    rows = read_records(path, problems)
    return build_cases(rows, str(path), mapping, problems)


def vignette_warnings(cases: list[CaseRecord], filename: str, limit: int) -> list[Problem]:
    """Cases to look at before a run: a vignette over the limit, or one that states its own gold diagnosis."""
    out = []
    for case in cases:
        if len(case.vignette) > limit:
            out.append(
                Problem(
                    filename,
                    case.line,
                    "vignette",
                    f"case {case.case_key!r}: {len(case.vignette)} characters, over the limit of {limit} "
                    "(case_set.max_vignette_chars); it may not fit a model's context",
                )
            )
        if len(case.gold_diagnosis) >= 8 and _fold(case.gold_diagnosis) in _fold(case.vignette):
            out.append(
                Problem(
                    filename,
                    case.line,
                    "vignette",
                    f"case {case.case_key!r}: the vignette contains the gold diagnosis {case.gold_diagnosis!r}",
                )
            )
    return out
