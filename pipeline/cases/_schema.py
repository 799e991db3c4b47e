"""The documented case schema and the column mapping that reads other files into it."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from db.models import INCIDENCES, TASK_DIFFERENTIAL, TASK_MULTIPLE_CHOICE, TASKS
from pipeline.cases._template import template_problems
from pipeline.errors import InputError, Problem

# Canonical fields of a case file. A mapping renames source columns to these.
REQUIRED_FIELDS = ("case_id", "vignette", "gold_diagnosis")
OPTIONAL_FIELDS = ("specialty", "incidence", "synonyms", "task", "options")
CANONICAL_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
LIST_SEPARATOR = "|"  # lists in CSV cells: "Appendicitis|Acute appendicitis"
# Longer vignettes are imported with a warning: they rarely fit a small model's context.
MAX_VIGNETTE_CHARS = 20_000
# How a multiple-choice gold names its option: by its text, its key or letter, or its position.
OPTION_GOLD = ("text", "key", "index0", "index1")

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
class VignetteSection:
    """One part of a vignette built from several fields: `heading: text`, left out when empty."""

    heading: str
    field: str


@dataclass(frozen=True)
class CaseMapping:
    """How a source file's fields map onto the canonical case fields (see data/cases/README.md).

    fields: canonical name -> source column or JMESPath expression. Unmapped canonical fields are
    read from a column of the same name, if there is one.
    keep: source columns kept as free attributes ("*" = every unmapped column).
    """

    fields: dict[str, str] = field(default_factory=dict)
    keep: tuple[str, ...] | str = "*"
    name: str | None = None
    task: str = TASK_DIFFERENTIAL
    attribution: str | None = None
    licence: str | None = None
    description: str | None = None
    id_prefix: str | None = None  # set: case ids are generated as prefix + row number
    vignette_template: str | None = None  # Jinja2, the record's fields as variables
    vignette_sections: tuple[VignetteSection, ...] = ()
    options_separator: str = LIST_SEPARATOR
    option_text: str = "text"  # options given as objects: the key of the option's text ...
    option_correct: str = "correct"  # ... and of its flag marking the gold
    option_gold: str = "text"  # how gold_diagnosis names its option: text, key (or letter), index0, index1
    max_vignette_chars: int = MAX_VIGNETTE_CHARS

    def column(self, canonical: str) -> str:
        return self.fields.get(canonical, canonical)

    def mapped(self, canonical: str) -> bool:
        return canonical in self.fields

    def with_fields(self, overrides: dict[str, str]) -> CaseMapping:
        return replace(self, fields={**self.fields, **overrides})

    def borrowed(self) -> CaseMapping:
        """The mapping used for another file: the set's name, description, attribution and licence stay behind."""
        return replace(self, name=None, attribution=None, licence=None, description=None)


# Every section and key a mapping may have; anything else is a typo and refused.
_SECTIONS: dict[str, set[str] | None] = {
    "case_set": {"name", "task", "attribution", "licence", "description", "max_vignette_chars"},
    "fields": None,  # checked against CANONICAL_FIELDS
    "attributes": {"keep"},
    "ids": {"prefix"},
    "vignette": {"template", "sections"},
    "options": {"separator", "text", "correct", "gold"},
}


def _unknown_keys(raw: dict, filename: str) -> list[Problem]:
    problems = []
    for section, value in raw.items():
        if section not in _SECTIONS:
            problems.append(
                Problem(filename, None, section, f"unknown section; known: {', '.join(f'[{s}]' for s in _SECTIONS)}")
            )
            continue
        if not isinstance(value, dict):
            problems.append(Problem(filename, None, section, "must be a table ([" + section + "])"))
            continue
        keys = _SECTIONS[section]
        for key in value:
            if keys is not None and key not in keys:
                problems.append(
                    Problem(filename, None, f"{section}.{key}", f"unknown key; known: {', '.join(sorted(keys))}")
                )
    return problems


def _text_setting(table: dict, key: str, where: str, filename: str, problems: list[Problem]) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        problems.append(Problem(filename, None, where, "must be a string"))
        return None
    return value


def _sections(raw: object, filename: str, problems: list[Problem]) -> tuple[VignetteSection, ...]:
    if raw is None:
        return ()
    ok = isinstance(raw, list) and all(
        isinstance(s, dict) and set(s) == {"heading", "field"} and all(isinstance(v, str) for v in s.values())
        for s in raw
    )
    if not ok or not raw:
        problems.append(
            Problem(filename, None, "vignette.sections", 'must be a list of { heading = "...", field = "..." }')
        )
        return ()
    return tuple(VignetteSection(s["heading"], s["field"]) for s in raw)


def parse_mapping(text: str, filename: str) -> CaseMapping:
    """Parse a mapping TOML (see data/cases/README.md); unknown sections and keys are errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(Problem(filename, getattr(exc, "lineno", None), None, f"not valid TOML: {exc}")) from None
    problems = _unknown_keys(raw, filename)
    tables = {k: (v if isinstance(v, dict) else {}) for k, v in raw.items()}
    fields = tables.get("fields", {})
    if not all(isinstance(v, str) and v.strip() for v in fields.values()):
        problems.append(Problem(filename, None, "fields", 'must be a table of canonical field = "source column"'))
        fields = {}
    for key in fields:
        if key not in CANONICAL_FIELDS:
            problems.append(
                Problem(filename, None, f"fields.{key}", f"unknown field; known: {', '.join(CANONICAL_FIELDS)}")
            )
    meta = tables.get("case_set", {})
    task = normalise_task(str(meta.get("task", TASK_DIFFERENTIAL)))
    if task is None:
        problems.append(Problem(filename, None, "case_set.task", f"must be one of {', '.join(TASKS)}"))
    limit = meta.get("max_vignette_chars", MAX_VIGNETTE_CHARS)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        problems.append(Problem(filename, None, "case_set.max_vignette_chars", "must be a whole number >= 1"))
        limit = MAX_VIGNETTE_CHARS
    keep = tables.get("attributes", {}).get("keep", "*")
    if not (keep == "*" or (isinstance(keep, list) and all(isinstance(k, str) for k in keep))):
        problems.append(Problem(filename, None, "attributes.keep", 'must be "*" or a list of column names'))
        keep = "*"
    vignette = tables.get("vignette", {})
    template = _text_setting(vignette, "template", "vignette.template", filename, problems)
    sections = _sections(vignette.get("sections"), filename, problems)
    if template and sections:
        problems.append(Problem(filename, None, "vignette", "give either template or sections, not both"))
    if (template or sections) and "vignette" in fields:
        problems.append(Problem(filename, None, "fields.vignette", "the [vignette] section builds the vignette"))
    if template:
        problems.extend(template_problems(template, filename))
    options = tables.get("options", {})
    separator = _text_setting(options, "separator", "options.separator", filename, problems)
    if separator is not None and not separator.strip():
        problems.append(Problem(filename, None, "options.separator", "must not be blank"))
        separator = None
    prefix = _text_setting(tables.get("ids", {}), "prefix", "ids.prefix", filename, problems)
    if prefix is not None and "case_id" in fields:
        problems.append(Problem(filename, None, "ids.prefix", "generated ids and fields.case_id exclude each other"))
    strings = {k: _text_setting(meta, k, f"case_set.{k}", filename, problems) for k in _META}
    option_keys = [_text_setting(options, k, f"options.{k}", filename, problems) for k in ("text", "correct", "gold")]
    if option_keys[2] not in (None, *OPTION_GOLD):
        problems.append(Problem(filename, None, "options.gold", f"must be one of {', '.join(OPTION_GOLD)}"))
    if problems:
        raise InputError(problems)
    return CaseMapping(
        fields=dict(fields),
        keep=keep if keep == "*" else tuple(keep),
        task=task or TASK_DIFFERENTIAL,
        id_prefix=prefix,
        vignette_template=template,
        vignette_sections=sections,
        options_separator=separator or LIST_SEPARATOR,
        option_text=option_keys[0] or "text",
        option_correct=option_keys[1] or "correct",
        option_gold=option_keys[2] or "text",
        max_vignette_chars=limit,
        **strings,
    )


_META = ("name", "attribution", "licence", "description")


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
    "VignetteSection",
    "load_mapping",
    "normalise_incidence",
    "normalise_task",
    "parse_mapping",
]
