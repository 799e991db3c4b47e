"""Writing validated cases to the study database: all or nothing, idempotent."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from sqlmodel import Session, select

from db.models import INCIDENCES, Case, CaseSet
from pipeline.cases._schema import CaseMapping, CaseRecord
from pipeline.errors import DxTraceError, InputError, Problem

_COMPARED = ("vignette", "gold_diagnosis", "specialty", "incidence", "synonyms", "task", "options", "attributes")


@dataclass
class ImportReport:
    case_set: str
    created_set: bool = False
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return self.created_set or bool(self.added or self.updated)

    def summary(self) -> str:
        parts = [f"case set {self.case_set!r}" + (" (new)" if self.created_set else "")]
        parts.append(f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged")
        if self.not_in_file:
            parts.append(f"{len(self.not_in_file)} in the database but not in the file (kept)")
        return "; ".join(parts)


def _row_values(record: CaseRecord) -> dict:
    return {
        "vignette": record.vignette,
        "gold_diagnosis": record.gold_diagnosis,
        "specialty": record.specialty,
        "incidence": record.incidence,
        "synonyms": list(record.synonyms),
        "task": record.task,
        "options": list(record.options) if record.options is not None else None,
        "attributes": record.attributes,
        "content_hash": record.content_hash(),
    }


def _changed_fields(case: Case, record: CaseRecord) -> list[str]:
    new = _row_values(record)
    return [f for f in _COMPARED if (getattr(case, f) or None) != (new[f] or None)]


def import_cases(
    session: Session,
    records: list[CaseRecord],
    *,
    name: str,
    mapping: CaseMapping,
    source: str,
    update: bool = False,
) -> ImportReport:
    """Add the cases to case set `name` in the caller's transaction.

    Re-importing the same file changes nothing. A case whose content differs
    from the stored one is an error naming it, unless update=True.
    """
    case_set = session.exec(select(CaseSet).where(CaseSet.name == name)).first()
    report = ImportReport(case_set=name)
    if case_set is None:
        case_set = CaseSet(
            name=name,
            task=mapping.task,
            source=source,
            attribution=mapping.attribution,
            licence=mapping.licence,
            description=mapping.description,
        )
        session.add(case_set)
        session.flush()
        report.created_set = True
    existing = {c.case_key: c for c in session.exec(select(Case).where(Case.case_set_id == case_set.id))}

    problems: list[Problem] = []
    for record in records:
        case = existing.get(record.case_key)
        if case is None:
            session.add(Case(case_set_id=case_set.id, case_key=record.case_key, **_row_values(record)))
            report.added.append(record.case_key)
        elif case.content_hash == record.content_hash():
            report.unchanged.append(record.case_key)
        elif update:
            for key, value in _row_values(record).items():
                setattr(case, key, value)
            session.add(case)
            report.updated.append(record.case_key)
        else:
            fields = ", ".join(_changed_fields(case, record)) or "content"
            problems.append(
                Problem(
                    source,
                    record.line,
                    fields,
                    f"case {record.case_key!r} differs from the stored case in set {name!r}; "
                    "pass --update to overwrite it",
                )
            )
    if problems:
        raise InputError(problems)
    seen = {r.case_key for r in records}
    report.not_in_file = sorted(k for k in existing if k not in seen)
    session.flush()
    return report


@dataclass(frozen=True)
class CaseSetSummary:
    name: str
    task: str
    n_cases: int
    by_specialty_incidence: dict[tuple[str, str], int]

    def specialties(self) -> list[str]:
        counts = Counter()
        for (spec, _), n in self.by_specialty_incidence.items():
            counts[spec] += n
        return [s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    def incidences(self) -> list[str]:
        present = {inc for _, inc in self.by_specialty_incidence}
        ordered = [i for i in INCIDENCES if i in present]
        return ordered + sorted(present - set(ordered))

    def total(self, specialty: str | None = None, incidence: str | None = None) -> int:
        return sum(
            n
            for (s, i), n in self.by_specialty_incidence.items()
            if (specialty is None or s == specialty) and (incidence is None or i == incidence)
        )


UNSPECIFIED = "(none)"


def summarise_case_sets(session: Session, name: str | None = None) -> list[CaseSetSummary]:
    query = select(CaseSet).order_by(CaseSet.name)
    if name is not None:
        query = query.where(CaseSet.name == name)
    summaries = []
    for case_set in session.exec(query):
        counts: Counter = Counter()
        for spec, inc in session.exec(select(Case.specialty, Case.incidence).where(Case.case_set_id == case_set.id)):
            counts[(spec or UNSPECIFIED, inc or UNSPECIFIED)] += 1
        summaries.append(CaseSetSummary(case_set.name, case_set.task, sum(counts.values()), dict(counts)))
    return summaries


def show_case(session: Session, case_key: str, case_set: str | None = None) -> list[tuple[str, str]]:
    """One case as (label, text) pairs, for a lead checking an import; the vignette comes last, in full."""
    query = select(Case, CaseSet).join(CaseSet, Case.case_set_id == CaseSet.id).where(Case.case_key == case_key)
    if case_set is not None:
        query = query.where(CaseSet.name == case_set)
    found = session.exec(query).all()
    if not found:
        where = f" in case set {case_set!r}" if case_set else ""
        raise DxTraceError(f"no case {case_key!r}{where}")
    if len(found) > 1:
        sets = ", ".join(sorted(cs.name for _, cs in found))
        raise DxTraceError(f"case {case_key!r} is in several case sets ({sets}); name one with --set")
    case, cs = found[0]
    rows = [
        ("case set", cs.name),
        ("case id", case.case_key),
        ("task", case.task),
        ("gold diagnosis", case.gold_diagnosis),
        ("specialty", case.specialty or ""),
        ("incidence", case.incidence or ""),
        ("synonyms", "; ".join(case.synonyms or [])),
    ]
    if case.options:
        rows.append(("options", "\n".join(f"  {chr(65 + i)}. {o}" for i, o in enumerate(case.options))))
    for key, value in (case.attributes or {}).items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        rows.append((f"attribute {key}", text))
    rows.append(("vignette", f"({len(case.vignette)} characters)\n{case.vignette}"))
    return rows
