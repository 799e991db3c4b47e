"""The versioned error-mode codebook: data/codebook/v<version>.toml, and its row in the database."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db.models import CodebookVersion
from pipeline.errors import InputError, Problem

CODEBOOK_DIR = Path(__file__).resolve().parents[2] / "data" / "codebook"
DEFAULT_VERSION = "1"

REASONING_DRIFT = "reasoning_drift"
RED_FLAG_FAILURE = "red_flag_failure"
PRIORITY_INVERSION = "priority_inversion"
OTHER = "other"
NO_ERROR = "no_error"
ERROR_MODE_CODES = (REASONING_DRIFT, RED_FLAG_FAILURE, PRIORITY_INVERSION, OTHER, NO_ERROR)


@dataclass(frozen=True)
class ErrorMode:
    code: str
    name: str
    definition: str
    example: str
    needs_description: bool = False  # "other": the annotator describes it
    exclusive: bool = False  # "no_error": excludes every other mode


@dataclass(frozen=True)
class Codebook:
    version: str
    title: str
    description: str
    error_modes: tuple[ErrorMode, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(m.code for m in self.error_modes)

    def mode(self, code: str) -> ErrorMode:
        for m in self.error_modes:
            if m.code == code:
                return m
        raise KeyError(code)

    def name_of(self, code: str) -> str:
        try:
            return self.mode(code).name
        except KeyError:
            return code

    def rows(self) -> list[dict]:
        """The error modes as stored in CodebookVersion.error_modes."""
        return [asdict(m) for m in self.error_modes]

    @property
    def content_hash(self) -> str:
        payload = json.dumps({"title": self.title, "error_modes": self.rows()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def codebook_path(version: str) -> Path:
    return CODEBOOK_DIR / f"v{version}.toml"


def available_versions() -> list[str]:
    return sorted(p.stem[1:] for p in CODEBOOK_DIR.glob("v*.toml"))


def parse_codebook(text: str, source: str = "codebook") -> Codebook:
    """A codebook from TOML text; every problem named by file and field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        raise InputError(Problem(source, line, None, f"not valid TOML: {exc}")) from None
    problems: list[Problem] = []
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append(Problem(source, None, "version", "must be a non-empty string"))
    raw_modes = data.get("error_mode")
    if not isinstance(raw_modes, list) or not raw_modes:
        problems.append(Problem(source, None, "error_mode", "at least one [[error_mode]] table is required"))
        raw_modes = []
    modes: list[ErrorMode] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_modes, 1):
        where = f"error_mode[{i}]"
        for field in ("code", "name", "definition", "example"):
            value = raw.get(field)
            if not isinstance(value, str) or not value.strip():
                problems.append(Problem(source, None, f"{where}.{field}", "must be a non-empty string"))
        code = str(raw.get("code", "")).strip()
        if code in seen:
            problems.append(Problem(source, None, f"{where}.code", f"duplicate code {code!r}"))
        seen.add(code)
        unknown = set(raw) - {"code", "name", "definition", "example", "needs_description", "exclusive"}
        if unknown:
            problems.append(Problem(source, None, where, f"unknown field(s): {', '.join(sorted(unknown))}"))
        modes.append(
            ErrorMode(
                code=code,
                name=str(raw.get("name", "")).strip(),
                definition=" ".join(str(raw.get("definition", "")).split()),
                example=" ".join(str(raw.get("example", "")).split()),
                needs_description=bool(raw.get("needs_description", False)),
                exclusive=bool(raw.get("exclusive", False)),
            )
        )
    if problems:
        raise InputError(problems)
    return Codebook(
        version=version.strip(),
        title=str(data.get("title", f"Codebook version {version}")).strip(),
        description=" ".join(str(data.get("description", "")).split()),
        error_modes=tuple(modes),
    )


def load_codebook(version: str = DEFAULT_VERSION) -> Codebook:
    """The shipped codebook of this version (data/codebook/v<version>.toml)."""
    path = codebook_path(version)
    if not path.exists():
        known = ", ".join(available_versions()) or "none"
        raise InputError(Problem(str(path), None, "version", f"no codebook version {version!r} (shipped: {known})"))
    book = parse_codebook(path.read_text(encoding="utf-8"), str(path))
    if book.version != version:
        raise InputError(Problem(str(path), None, "version", f"file says {book.version!r}, expected {version!r}"))
    return book


def ensure_codebook(session: Session, version: str = DEFAULT_VERSION) -> CodebookVersion:
    """The database row of this codebook version, created from the shipped file on first use."""
    row = session.exec(select(CodebookVersion).where(CodebookVersion.version == version)).first()
    if row is not None:
        return row
    book = load_codebook(version)
    row = CodebookVersion(
        version=book.version, title=book.title, error_modes=book.rows(), content_hash=book.content_hash
    )
    try:
        with session.begin_nested():  # several annotators' first saves can pin the codebook at once
            session.add(row)
    except IntegrityError:  # another one inserted it first: use theirs
        return session.exec(select(CodebookVersion).where(CodebookVersion.version == book.version)).one()
    return row


def codebook_from_row(row: CodebookVersion) -> Codebook:
    """The codebook as stored: annotations are checked against the version they were made under."""
    modes = tuple(
        ErrorMode(
            code=m["code"],
            name=m.get("name", m["code"]),
            definition=m.get("definition", ""),
            example=m.get("example", ""),
            needs_description=bool(m.get("needs_description", False)),
            exclusive=bool(m.get("exclusive", False)),
        )
        for m in row.error_modes
    )
    return Codebook(version=row.version, title=row.title or "", description="", error_modes=modes)
