"""Case sets: the documented schema, reading files with a column mapping, and importing them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pipeline._files import decode, row_suffixes
from pipeline._files import resolve_source as _resolve
from pipeline.cases._read import build_cases, read_case_file, split_delimited, vignette_warnings
from pipeline.cases._schema import (
    CANONICAL_FIELDS,
    CaseMapping,
    CaseRecord,
    VignetteSection,
    load_mapping,
    normalise_incidence,
    parse_mapping,
)
from pipeline.cases._store import (
    UNSPECIFIED,
    CaseSetSummary,
    ImportReport,
    import_cases,
    show_case,
    summarise_case_sets,
)
from pipeline.errors import InputError, Problem

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
SHIPPED_CASES = DATA_DIR / "cases"
MAPPING_FILE = "mapping.toml"


def shipped_case_sets() -> list[str]:
    return sorted(p.name for p in SHIPPED_CASES.iterdir() if (p / MAPPING_FILE).exists())


def resolve_source(source: str) -> tuple[Path, Path | None]:
    """A case file and its mapping from a file path, a folder, or a shipped set's name."""
    return _resolve(source, SHIPPED_CASES, MAPPING_FILE, "case set", shipped_case_sets)


__all__ = [
    "CANONICAL_FIELDS",
    "SHIPPED_CASES",
    "UNSPECIFIED",
    "CaseMapping",
    "CaseRecord",
    "CaseSetSummary",
    "ImportReport",
    "VignetteSection",
    "build_cases",
    "decode",
    "import_cases",
    "import_target",
    "load_mapping",
    "normalise_incidence",
    "parse_mapping",
    "read_case_file",
    "resolve_source",
    "shipped_case_sets",
    "shipped_file",
    "show_case",
    "split_delimited",
    "summarise_case_sets",
    "vignette_warnings",
]


def shipped_file(name: str) -> Path | None:
    """The data file of shipped set `name`, if it is one."""
    if name not in shipped_case_sets():
        return None
    return _resolve(name, SHIPPED_CASES, MAPPING_FILE, "case set", shipped_case_sets)[0]


def _belongs_elsewhere(mapping_path: Path, path: Path) -> bool:
    """A mapping that sits beside another data file (a shipped set's, another study's) describes that set."""
    folder = mapping_path.resolve().parent
    others = [p for p in folder.iterdir() if p.suffix.lower() in row_suffixes() and p.resolve() != path.resolve()]
    return bool(others)


def import_target(
    path: Path, mapping: CaseMapping, *, mapping_path: Path | None, name: str | None, **meta: str | None
) -> tuple[str, CaseMapping]:
    """The case-set name and mapping for importing `path`.

    A mapping borrowed from another folder (e.g. a shipped set's) is a recipe for reading the file:
    the borrowed set's name, description, attribution and licence stay behind; `meta` (description,
    attribution, licence) sets them. A shipped set's name takes only that set's own file.
    """
    if mapping_path is not None and _belongs_elsewhere(mapping_path, path):
        mapping = mapping.borrowed()
    given = {k: v for k, v in meta.items() if v is not None}
    if given:
        mapping = replace(mapping, **given)
    set_name = name or mapping.name or path.stem
    own = shipped_file(set_name)
    if own is not None and own.resolve() != path.resolve():
        raise InputError(
            Problem(
                str(path),
                None,
                "name",
                f"{set_name!r} is a shipped case set; import this file under its own name with --name NAME",
            )
        )
    return set_name, mapping
