"""The export format: version, file names, schemas, timestamps and annotator refs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

FORMAT = "dxtrace-export"
FORMAT_VERSION = 1
RECORDS_FILE = "responses.jsonl"
MANIFEST_FILE = "study.json"
TABLES_DIR = "tables"
FORMATS = ("jsonl", "csv", "parquet", "hf")
DEFAULT_FORMATS = ("jsonl", "csv", "parquet")  # "hf": a Hugging Face datasets folder, on request

_HERE = Path(__file__).resolve().parent
RECORD_SCHEMA_FILE = _HERE / "export.schema.json"
MANIFEST_SCHEMA_FILE = _HERE / "manifest.schema.json"

# Keys inside free-form audit dicts (AnnotationEvent.before/after) that name a person:
# their values are rewritten to annotator refs so a pseudonymised export leaks no id or username.
ID_KEYS = frozenset({"annotator_id", "adjudicator_id"})
NAME_KEYS = frozenset({"annotator", "adjudicator", "username", "grader"})
# Database ids of codebook versions are rewritten to the version, which survives an import.
CODEBOOK_KEYS = frozenset({"codebook_version_id"})


@cache
def record_schema() -> dict:
    return json.loads(RECORD_SCHEMA_FILE.read_text(encoding="utf-8"))


@cache
def manifest_schema() -> dict:
    return json.loads(MANIFEST_SCHEMA_FILE.read_text(encoding="utf-8"))


def ts(value: datetime | None) -> str | None:
    """A timestamp as ISO 8601 in UTC; naive values (SQLite) are stored UTC."""
    if value is None:
        return None
    if value.tzinfo is None:  # the common case, written without two conversions (an export makes ~10 per response)
        return value.isoformat(timespec="microseconds") + "+00:00"
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@lru_cache(maxsize=65_536)
def natural_key(text: str) -> tuple:
    """Sort A2 before A10. Cached: an export sorts 100,000 records by a few hundred case keys."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def response_key(model: str, case_set: str, case_key: str, repeat: int, run_ordinal: int, n_runs: int) -> str:
    key = f"{model}/{case_set}/{case_key}/r{repeat}"
    return f"{key}/run{run_ordinal}" if n_runs > 1 else key


@dataclass
class AnnotatorRefs:
    """Annotator id <-> the ref written in the export (pseudonym or username)."""

    pseudonymise: bool
    usernames: dict[int, str]  # every annotator of the database, id -> username
    ref_of: dict[int, str] = field(default_factory=dict)
    codebook_versions: dict[int, str] = field(default_factory=dict)  # codebook id -> version
    _by_name: dict[str, str] | None = field(default=None, repr=False)  # username -> ref, built on first use

    @classmethod
    def build(cls, ids: set[int], usernames: dict[int, str], pseudonymise: bool) -> AnnotatorRefs:
        refs = cls(pseudonymise, usernames)
        # Pseudonyms follow account creation order, so an imported export (which creates
        # the accounts in A1, A2 ... order) gets the same pseudonyms when exported again.
        for n, annotator_id in enumerate(sorted(ids), 1):
            refs.ref_of[annotator_id] = f"A{n}" if pseudonymise else usernames[annotator_id]
        return refs

    def ref(self, annotator_id: int | None) -> str | None:
        return None if annotator_id is None else self.ref_of[annotator_id]

    def name_ref(self, name: str | None) -> str | None:
        """A username replaced by its ref; any other text unchanged."""
        if name is None:
            return None
        if self._by_name is None:
            self._by_name = {}
            for annotator_id, username in self.usernames.items():
                if annotator_id in self.ref_of:
                    self._by_name.setdefault(username, self.ref_of[annotator_id])
        return self._by_name.get(name, name)

    def scrub(self, value: Any) -> Any:
        """A free-form dict with every person id or username replaced by its ref."""
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if k in ID_KEYS and isinstance(v, int) and not isinstance(v, bool):
                    out[k] = self.ref_of.get(v, v)
                elif k in NAME_KEYS and isinstance(v, str):
                    out[k] = self.name_ref(v)
                elif k in CODEBOOK_KEYS and isinstance(v, int) and not isinstance(v, bool):
                    out[k] = self.codebook_versions.get(v, v)
                else:
                    out[k] = self.scrub(v)
            return out
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        return value


def person_ids_in(value: Any, usernames: dict[int, str]) -> set[int]:
    """Annotator ids mentioned in a free-form dict (by id or by username)."""
    found: set[int] = set()
    by_name = {name: i for i, name in usernames.items()}
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ID_KEYS and isinstance(v, int) and not isinstance(v, bool) and v in usernames:
                found.add(v)
            elif k in NAME_KEYS and isinstance(v, str) and v in by_name:
                found.add(by_name[v])
            else:
                found |= person_ids_in(v, usernames)
    elif isinstance(value, list):
        for v in value:
            found |= person_ids_in(v, usernames)
    return found
