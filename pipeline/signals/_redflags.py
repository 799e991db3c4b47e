"""The versioned red-flag list (data/redflags/v<version>.toml), its rows in the database, and finding
its entries in a vignette.

The lead edits the list like the codebook: copy the newest file, change it, load it
(`python -m pipeline redflags load FILE`); the newest loaded version is the one signals use, and each
stored signal records the version it read.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlmodel import Session, select

from db.models import RedFlagList
from pipeline.accuracy import normalise
from pipeline.errors import InputError, Problem
from pipeline.signals._registry import RedFlagHit
from pipeline.signals._text import Sentence, find_phrase, negated, quote, sentences

REDFLAG_DIR = Path(__file__).resolve().parents[2] / "data" / "redflags"
DEFAULT_VERSION = "1"
SLACK = 3  # a multi-word term's words may stand in any order within len(term) + SLACK tokens
_FIELDS = {"id", "name", "terms", "source", "note"}


@dataclass(frozen=True)
class RedFlag:
    id: str
    name: str
    terms: tuple[str, ...]
    source: str  # the published list or guideline it comes from
    note: str = ""


@dataclass(frozen=True)
class RedFlagSet:
    version: str
    title: str
    flags: tuple[RedFlag, ...]

    def rows(self) -> list[dict]:
        return [{**asdict(f), "terms": list(f.terms)} for f in self.flags]

    @property
    def content_hash(self) -> str:
        payload = json.dumps({"title": self.title, "flags": self.rows()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def _line_of(exc: tomllib.TOMLDecodeError) -> int | None:
    found = re.search(r"at line (\d+)", str(exc))
    return int(found.group(1)) if found else None


def _parse_flag(raw: object, where: str, source: str, problems: list[Problem]) -> RedFlag | None:
    if not isinstance(raw, dict):
        problems.append(Problem(source, None, where, "must be a table"))
        return None
    for key in ("id", "name", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            problems.append(Problem(source, None, f"{where}.{key}", "must be a non-empty string"))
    terms = raw.get("terms")
    if not isinstance(terms, list) or not terms or not all(isinstance(t, str) and normalise(t) for t in terms):
        problems.append(Problem(source, None, f"{where}.terms", "must be a non-empty list of words or phrases"))
        terms = []
    unknown = set(raw) - _FIELDS
    if unknown:
        problems.append(Problem(source, None, where, f"unknown field(s): {', '.join(sorted(unknown))}"))
    return RedFlag(
        id=str(raw.get("id", "")).strip(),
        name=str(raw.get("name", "")).strip(),
        terms=tuple(str(t).strip() for t in terms),
        source=" ".join(str(raw.get("source", "")).split()),
        note=" ".join(str(raw.get("note", "")).split()),
    )


def parse_redflags(text: str, source: str = "red-flag list") -> RedFlagSet:
    """A red-flag list from TOML text; every problem named by file and field, nothing half-read."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(Problem(source, _line_of(exc), None, f"not valid TOML: {exc}")) from None
    problems: list[Problem] = []
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append(Problem(source, None, "version", "must be a non-empty string"))
    raw_flags = data.get("red_flag")
    if not isinstance(raw_flags, list) or not raw_flags:
        problems.append(Problem(source, None, "red_flag", "at least one [[red_flag]] table is required"))
        raw_flags = []
    flags: list[RedFlag] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_flags, 1):
        flag = _parse_flag(raw, f"red_flag[{i}]", source, problems)
        if flag is None:
            continue
        if flag.id in seen:
            problems.append(Problem(source, None, f"red_flag[{i}].id", f"duplicate id {flag.id!r}"))
        seen.add(flag.id)
        flags.append(flag)
    if problems:
        raise InputError(problems)
    return RedFlagSet(str(version).strip(), str(data.get("title", f"Red flags, version {version}")), tuple(flags))


def available_versions() -> list[str]:
    return sorted(p.stem[1:] for p in REDFLAG_DIR.glob("v*.toml"))


def load_shipped(version: str = DEFAULT_VERSION) -> RedFlagSet:
    path = REDFLAG_DIR / f"v{version}.toml"
    if not path.exists():
        known = ", ".join(available_versions()) or "none"
        raise InputError(
            Problem(str(path), None, "version", f"no red-flag list version {version!r} (shipped: {known})")
        )
    return read_redflags_file(path)


def read_redflags_file(path: Path | str) -> RedFlagSet:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), None, None, f"cannot read: {exc}")) from None
    return parse_redflags(text, str(path))


def store_redflags(session: Session, flags: RedFlagSet) -> RedFlagList:
    """The database row of this version; a version cannot change once loaded (load it as a new version)."""
    row = session.exec(select(RedFlagList).where(RedFlagList.version == flags.version)).first()
    if row is not None:
        if row.content_hash != flags.content_hash:
            raise InputError(
                Problem(
                    "red-flag list",
                    None,
                    "version",
                    f"version {flags.version!r} is already loaded with "
                    "different entries; give the changed list a new version",
                )  # fmt: skip
            )
        return row
    row = RedFlagList(version=flags.version, title=flags.title, entries=flags.rows(), content_hash=flags.content_hash)
    session.add(row)
    session.flush()
    return row


def load_redflags(session: Session, flags: RedFlagSet) -> RedFlagList:
    """Store this version and make it the active one (the newest row is active; loading an older version
    again moves it to the top)."""
    row = store_redflags(session, flags)
    newer = session.exec(select(RedFlagList).where(RedFlagList.id > row.id)).first()
    if newer is None:
        return row
    session.delete(row)
    session.flush()
    fresh = RedFlagList(version=row.version, title=row.title, entries=row.entries, content_hash=row.content_hash)
    session.add(fresh)
    session.flush()
    return fresh


def from_row(row: RedFlagList) -> RedFlagSet:
    flags = tuple(
        RedFlag(e["id"], e["name"], tuple(e["terms"]), e.get("source", ""), e.get("note", "")) for e in row.entries
    )
    return RedFlagSet(row.version, row.title or "", flags)


def active_redflags(session: Session) -> RedFlagList:
    """The newest loaded version (by load order); the shipped default is loaded on first use."""
    row = session.exec(select(RedFlagList).order_by(RedFlagList.id.desc())).first()
    return row if row is not None else store_redflags(session, load_shipped())


def _term_tokens(flag: RedFlag) -> list[tuple[str, ...]]:
    return [tuple(normalise(t).split()) for t in flag.terms]


def _first_hit(sent: Sentence, flag: RedFlag, *, allow_negated: bool) -> tuple[int, int] | None:
    for term in _term_tokens(flag):
        at = find_phrase(sent.tokens, term, slack=SLACK)
        if at is not None and (allow_negated or not negated(sent.tokens, at, len(term))):
            return at, len(term)
    return None


def flags_in_vignette(vignette: str, flags: RedFlagSet) -> list[RedFlagHit]:
    """The list's red flags the vignette states as present (a negated mention does not count)."""
    sents = sentences(vignette)
    out = []
    for flag in flags.flags:
        for sent in sents:
            hit = _first_hit(sent, flag, allow_negated=False)
            if hit:
                at, n = hit
                words = " ".join(sent.tokens[at : at + n])
                source = f"list:v{flags.version}"
                out.append(
                    RedFlagHit(flag.id, flag.name, flag.terms, quote(vignette, sent, flag.terms[0]), source, words)
                )
                break
    return out


def taken_up(sent: Sentence, hit: RedFlagHit) -> bool:
    """Whether a trace sentence takes the red flag up: one of its terms, or the vignette's own words for it.

    A negated mention counts: the trace considered the finding, which is what the signal asks.
    """
    flag = RedFlag(hit.id, hit.name, hit.terms, hit.source)
    if _first_hit(sent, flag, allow_negated=True):
        return True
    words = tuple(w for w in hit.phrase.split() if len(w) > 3)
    # The vignette's own wording (e.g. "worst headache of her life"): its content words close together.
    return len(words) >= 2 and len(words) <= 6 and find_phrase(sent.tokens, words, slack=SLACK) is not None
