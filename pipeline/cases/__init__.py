"""Case sets: the documented schema, reading files with a column mapping, and importing them."""

from __future__ import annotations

from pathlib import Path

from pipeline._files import resolve_source as _resolve
from pipeline.cases._read import FORMATS, decode, detect_format, parse_cases, read_case_file
from pipeline.cases._schema import (
    CANONICAL_FIELDS,
    CaseMapping,
    CaseRecord,
    load_mapping,
    normalise_incidence,
    parse_mapping,
)
from pipeline.cases._store import (
    UNSPECIFIED,
    CaseSetSummary,
    ImportReport,
    import_cases,
    summarise_case_sets,
)

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
    "FORMATS",
    "SHIPPED_CASES",
    "UNSPECIFIED",
    "CaseMapping",
    "CaseRecord",
    "CaseSetSummary",
    "ImportReport",
    "decode",
    "detect_format",
    "import_cases",
    "load_mapping",
    "normalise_incidence",
    "parse_cases",
    "parse_mapping",
    "read_case_file",
    "resolve_source",
    "shipped_case_sets",
    "summarise_case_sets",
]
