"""The documented case schema and the column mapping that reads other files into it."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from db.models import INCIDENCES, TASK_DIFFERENTIAL, TASK_MULTIPLE_CHOICE, TASKS
from pipeline.errors import InputError, Problem

# Canonical fields of a case file. A mapping renames source columns to these.
REQUIRED_FIELDS = ("case_id", "vignette", "gold_diagnosis")
OPTIONAL_FIELDS = ("specialty", "incidence", "synonyms", "task", "options")
CANONICAL_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
LIST_SEPARATOR = "|"  # lists in CSV cells: "Appendicitis|Acute appendicitis"

# Spellings people use for the three incidence classes.
_INCIDENCE_ALIASES = {
    "frequent": "Frequent",
    "common": "Frequent",
    "less frequent": "Less Frequent",
    "less_frequent": "Less Frequent",
    "less-frequent": "Less Frequent",
    "lessfrequent": "Less Frequent",
    "uncommon": "Less Frequent",
    "rare": "Rare",
}
_TASK_ALIASES = {
    "differential": TASK_DIFFERENTIAL,
    "diagnosis": TASK_DIFFERENTIAL,
    "multiple_choice": TASK_MULTIPLE_CHOICE,
    "multiple-choice": TASK_MULTIPLE_CHOICE,
    "multiple choice": TASK_MULTIPLE_CHOICE,
    "mcq": TASK_MULTIPLE_CHOICE,
}


def normalise_incidence(value: str) -> str | None:
    return _INCIDENCE_ALIASES.get(" ".join(value.strip().lower().split()))


def normalise_task(value: str) -> str | None:
    return _TASK_ALIASES.get(value.strip().lower())


@dataclass(frozen=True)
class CaseRecord:
    """One validated case, as read from a file, before it touches the database."""

    case_key: str
    vignette: str
    gold_diagnosis: str
    specialty: str | None = None
    incidence: str | None = None
    synonyms: tuple[str, ...] = ()
    task: str = TASK_DIFFERENTIAL
    options: tuple[str, ...] | None = None
    attributes: dict = field(default_factory=dict)
    line: int = 0  # where it stands in its file, for messages

    def content_hash(self) -> str:
        payload = {
            "vignette": self.vignette,
            "gold_diagnosis": self.gold_diagnosis,
            "specialty": self.specialty,
            "incidence": self.incidence,
            "synonyms": list(self.synonyms),
            "task": self.task,
            "options": list(self.options) if self.options is not None else None,
            "attributes": self.attributes,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CaseMapping:
    """How a source file's columns map onto the canonical case fields.

    fields: canonical name -> source column. Unmapped canonical fields are read
    from a column of the same name, if there is one.
    keep: source columns kept as free attributes ("*" = every unmapped column).
    """

    fields: dict[str, str] = field(default_factory=dict)
    keep: tuple[str, ...] | str = "*"
    name: str | None = None
    task: str = TASK_DIFFERENTIAL
    attribution: str | None = None
    licence: str | None = None
    description: str | None = None

    def column(self, canonical: str) -> str:
        return self.fields.get(canonical, canonical)

    def with_fields(self, overrides: dict[str, str]) -> CaseMapping:
        return CaseMapping(
            fields={**self.fields, **overrides},
            keep=self.keep,
            name=self.name,
            task=self.task,
            attribution=self.attribution,
            licence=self.licence,
            description=self.description,
        )


def parse_mapping(text: str, filename: str) -> CaseMapping:
    """Parse a mapping TOML (see data/cases/README.md)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(Problem(filename, getattr(exc, "lineno", None), None, f"not valid TOML: {exc}")) from None
    problems: list[Problem] = []
    fields = raw.get("fields", {})
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        problems.append(Problem(filename, None, "fields", 'must be a table of canonical field = "source column"'))
        fields = {}
    for key in fields:
        if key not in CANONICAL_FIELDS:
            problems.append(
                Problem(filename, None, f"fields.{key}", f"unknown field; known: {', '.join(CANONICAL_FIELDS)}")
            )
    meta = raw.get("case_set", {})
    task = normalise_task(str(meta.get("task", TASK_DIFFERENTIAL)))
    if task is None:
        problems.append(Problem(filename, None, "case_set.task", f"must be one of {', '.join(TASKS)}"))
    keep = raw.get("attributes", {}).get("keep", "*")
    if not (keep == "*" or (isinstance(keep, list) and all(isinstance(k, str) for k in keep))):
        problems.append(Problem(filename, None, "attributes.keep", 'must be "*" or a list of column names'))
        keep = "*"
    if problems:
        raise InputError(problems)
    return CaseMapping(
        fields=dict(fields),
        keep=keep if keep == "*" else tuple(keep),
        name=meta.get("name"),
        task=task or TASK_DIFFERENTIAL,
        attribution=meta.get("attribution"),
        licence=meta.get("licence"),
        description=meta.get("description"),
    )


def load_mapping(path: Path) -> CaseMapping:
    try:
        return parse_mapping(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), None, None, f"cannot read mapping: {exc}")) from None


__all__ = [
    "CANONICAL_FIELDS",
    "INCIDENCES",
    "CaseMapping",
    "CaseRecord",
    "load_mapping",
    "normalise_incidence",
    "normalise_task",
    "parse_mapping",
]
