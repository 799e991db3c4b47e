"""Case sets: the documented schema, reading files with a column mapping, and importing them."""

from __future__ import annotations

from pathlib import Path

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
from pipeline.errors import InputError, Problem

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
SHIPPED_CASES = DATA_DIR / "cases"
MAPPING_FILE = "mapping.toml"


def shipped_case_sets() -> list[str]:
    return sorted(p.name for p in SHIPPED_CASES.iterdir() if (p / MAPPING_FILE).exists())


def resolve_source(source: str) -> tuple[Path, Path | None]:
    """A case file and its mapping from a file path, a folder, or a shipped set's name."""
    path = Path(source)
    if not path.exists() and (SHIPPED_CASES / source).is_dir():
        path = SHIPPED_CASES / source
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".jsonl", ".csv", ".tsv"))
        if len(files) != 1:
            raise InputError(
                Problem(str(path), None, None, "a case-set folder must hold exactly one .jsonl or .csv file")
            )
        mapping = path / MAPPING_FILE
        return files[0], mapping if mapping.exists() else None
    if not path.exists():
        known = ", ".join(shipped_case_sets())
        raise InputError(Problem(source, None, None, f"no such file, folder or shipped case set (shipped: {known})"))
    return path, None


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
