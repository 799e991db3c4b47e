"""Accepted synonyms of gold diagnoses: the case's own, plus a curated file per case set."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pipeline.errors import InputError, Problem

SYNONYMS_DIR = Path(__file__).resolve().parents[2] / "data" / "synonyms"


@lru_cache(maxsize=32)
def _load(path: Path) -> dict[str, tuple[str, ...]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(Problem(str(path), getattr(exc, "lineno", None), None, f"not valid TOML: {exc}")) from None
    table = data.get("synonyms", {})
    if not isinstance(table, dict):
        raise InputError(Problem(str(path), None, "synonyms", "must be a table of case_key = [names]"))
    out: dict[str, tuple[str, ...]] = {}
    for key, names in table.items():
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise InputError(Problem(str(path), None, f"synonyms.{key}", "must be a list of non-empty strings"))
        out[str(key)] = tuple(names)
    return out


def curated_synonyms(case_set: str, folder: Path | None = None) -> dict[str, tuple[str, ...]]:
    """case_key -> accepted names from data/synonyms/<case_set>.toml ({} when there is no file)."""
    path = (folder or SYNONYMS_DIR) / f"{case_set}.toml"
    return _load(path) if path.exists() else {}


def case_synonyms(case_set: str, case_key: str, own: list | None) -> list[str]:
    names = [str(s) for s in (own or []) if str(s).strip()]
    names.extend(curated_synonyms(case_set).get(case_key, ()))
    return list(dict.fromkeys(names))
