"""A lead's codebook edits, saved as a new version; switching a study to another version, previewed.

A stored version is never changed: annotations and final labels point at the version they were
made under. An edit writes a new CodebookVersion row; a study then switches to it (or not). Codes
are the identity of an error mode: names, definitions and examples change, codes stay; a mode that
labels of the study use cannot be dropped, nor "other" and "no_error", which the app relies on.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from sqlmodel import Session, select

from db.models import Annotation, CodebookVersion, FinalLabel, Study
from pipeline.annotation._codebook import Codebook, ErrorMode, available_versions, codebook_from_row, ensure_codebook
from pipeline.errors import DxTraceError, InputError, Problem

WHERE = "codebook"
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$")


@dataclass(frozen=True)
class ModeEdit:
    """One error mode as the lead left it; code "" for a new mode (made from its name)."""

    code: str
    name: str
    definition: str
    example: str = ""


def code_from_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")[:40]


def codebook_versions(session: Session) -> list[str]:
    """Every version a study can use: the shipped files and those made in the app."""
    stored = set(session.exec(select(CodebookVersion.version)))
    return sorted(set(available_versions()) | stored, key=_version_key)


def _version_key(v: str) -> tuple:
    return (0, int(v), v) if v.isdigit() else (1, 0, v)


def next_version(session: Session) -> str:
    numbers = [int(v) for v in codebook_versions(session) if v.isdigit()]
    return str(max(numbers, default=0) + 1)


def used_codes(session: Session, study_id: int) -> Counter:
    """How many annotations and final labels of the study use each error-mode code."""
    counts: Counter = Counter()
    for modes in session.exec(select(Annotation.error_modes).where(Annotation.study_id == study_id)).all():
        counts.update(set(modes or []))
    for modes in session.exec(select(FinalLabel.error_modes).where(FinalLabel.study_id == study_id)).all():
        counts.update(set(modes or []))
    return counts


def _problem(fld: str, message: str) -> Problem:
    return Problem(WHERE, None, fld, message)


def _modes(base: Codebook, edits: list[ModeEdit], used: Counter) -> tuple[list[ErrorMode], list[Problem]]:
    problems: list[Problem] = []
    old = {m.code: m for m in base.error_modes}
    seen_names: dict[str, int] = {}
    seen_codes: set[str] = set()
    modes: list[ErrorMode] = []
    for i, e in enumerate(edits, 1):
        name, definition = " ".join(e.name.split()), " ".join(e.definition.split())
        label = f"mode {i}" + (f" ({name})" if name else "")
        if not name:
            problems.append(_problem(f"mode {i} name", "must not be empty"))
        elif name.casefold() in seen_names:
            problems.append(
                _problem(f"mode {i} name", f"{name!r} is already the name of mode {seen_names[name.casefold()]}")
            )
        else:
            seen_names[name.casefold()] = i
        if not definition:
            problems.append(_problem(f"{label} definition", "must not be empty"))
        code = e.code.strip() or code_from_name(name)
        if e.code.strip() and code not in old:
            problems.append(_problem(f"{label} code", f"{code!r} is not in version {base.version}"))
        if not e.code.strip() and name and (not code or code in old or code in seen_codes):
            problems.append(_problem(f"{label} name", f"gives the code {code!r}, which is taken: choose another name"))
        seen_codes.add(code)
        was = old.get(code)
        modes.append(
            ErrorMode(
                code=code,
                name=name,
                definition=definition,
                example=" ".join(e.example.split()),
                needs_description=was.needs_description if was and e.code.strip() else False,
                exclusive=was.exclusive if was and e.code.strip() else False,
            )
        )
    for code, m in old.items():
        if code in seen_codes:
            continue
        if m.needs_description or m.exclusive:
            problems.append(_problem(f"mode {m.name}", "cannot be removed: the app relies on it"))
        elif used[code]:
            problems.append(
                _problem(
                    f"mode {m.name}",
                    f"cannot be removed: {used[code]} label(s) of this study use it (rename or redefine it instead)",
                )
            )
    return modes, problems


def new_codebook_version(
    session: Session,
    study_id: int,
    edits: list[ModeEdit],
    *,
    version: str | None = None,
    title: str | None = None,
) -> CodebookVersion:
    """Save the study's codebook with these edits as a new version (the study keeps its version until switched)."""
    from pipeline.annotation._labels import study_codebook

    study = session.get(Study, study_id)
    if study is None:
        raise DxTraceError(f"no study with id {study_id}")
    _, base = study_codebook(session, study)
    version = (version or "").strip() or next_version(session)
    problems: list[Problem] = []
    if not _VERSION.match(version):
        problems.append(_problem("version", "use 1-20 letters, digits, '.', '_' or '-'"))
    elif version in codebook_versions(session):
        problems.append(_problem("version", f"{version!r} exists already: a version is never changed, pick a new one"))
    if not edits:
        problems.append(_problem("modes", "a codebook needs at least one error mode"))
    modes, more = _modes(base, edits, used_codes(session, study.id))
    problems.extend(more)
    book = Codebook(version, (title or "").strip() or f"{base.title} (version {version})", "", tuple(modes))
    if not problems and book.rows() == base.rows():
        problems.append(_problem("modes", f"nothing changed from version {base.version}"))
    if problems:
        raise InputError(problems)
    row = CodebookVersion(
        version=book.version, title=book.title, error_modes=book.rows(), content_hash=book.content_hash
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class SwitchPreview:
    """What switching a study to another codebook version means for its labels."""

    current: str | None
    new: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    renamed: tuple[tuple[str, str, str], ...]  # code, old name, new name
    redefined: tuple[str, ...]
    annotations_by_version: dict[str, int]
    blocked: tuple[str, ...]  # why the switch is refused

    def lines(self) -> list[str]:
        out = []
        if self.current == self.new:
            return [f"the study uses version {self.new} already"]
        n = sum(self.annotations_by_version.values())
        made = ", ".join(f"{k} under version {v}" for v, k in sorted(self.annotations_by_version.items()))
        out.append(
            f"{n} existing annotation(s) keep the version they were made under ({made or 'none yet'}); "
            f"new saves, and changes to old annotations, are recorded under version {self.new}"
        )
        out.extend(f"new mode: {c}" for c in self.added)
        out.extend(f"removed mode: {c}" for c in self.removed)
        out.extend(f"renamed: {c}: {a} → {b}" for c, a, b in self.renamed)
        if self.redefined:
            out.append("definition or example changed: " + ", ".join(self.redefined))
        return out


def preview_codebook_switch(session: Session, study_id: int, version: str) -> SwitchPreview:
    study = session.get(Study, study_id)
    if study is None:
        raise DxTraceError(f"no study with id {study_id}")
    if version not in codebook_versions(session):
        raise InputError(_problem("version", f"no codebook version {version!r}"))
    current_row = session.get(CodebookVersion, study.codebook_version_id) if study.codebook_version_id else None
    new_row = session.exec(select(CodebookVersion).where(CodebookVersion.version == version)).first()
    new = codebook_from_row(new_row) if new_row else _shipped(version)
    old = codebook_from_row(current_row) if current_row else None
    old_modes = {m.code: m for m in old.error_modes} if old else {}
    new_modes = {m.code: m for m in new.error_modes}
    used = used_codes(session, study.id)
    by_version: Counter = Counter()
    names = {r.id: r.version for r in session.exec(select(CodebookVersion))}
    for cid in session.exec(select(Annotation.codebook_version_id).where(Annotation.study_id == study.id)).all():
        by_version[names.get(cid, str(cid))] += 1
    blocked = tuple(
        f"{used[c]} label(s) of this study use {c!r}, which version {version} lacks"
        for c in sorted(used)
        if c not in new_modes
    )
    return SwitchPreview(
        current=current_row.version if current_row else None,
        new=version,
        added=tuple(c for c in new_modes if old and c not in old_modes),
        removed=tuple(c for c in old_modes if c not in new_modes),
        renamed=tuple(
            (c, old_modes[c].name, m.name)
            for c, m in new_modes.items()
            if c in old_modes and old_modes[c].name != m.name
        ),
        redefined=tuple(
            c
            for c, m in new_modes.items()
            if c in old_modes and (old_modes[c].definition, old_modes[c].example) != (m.definition, m.example)
        ),
        annotations_by_version=dict(by_version),
        blocked=blocked,
    )


def _shipped(version: str) -> Codebook:
    from pipeline.annotation._codebook import load_codebook

    return load_codebook(version)


def check_switch(session: Session, study_id: int, version: str) -> SwitchPreview:
    preview = preview_codebook_switch(session, study_id, version)
    if preview.blocked:
        raise InputError([_problem("version", b) for b in preview.blocked])
    return preview


def switch_codebook(session: Session, study_id: int, version: str) -> SwitchPreview:
    """Let the study label with this version from now on (refused if its labels use a mode it lacks)."""
    preview = check_switch(session, study_id, version)
    study = session.get(Study, study_id)
    study.codebook_version_id = ensure_codebook(session, version).id
    session.add(study)
    session.flush()
    return preview
