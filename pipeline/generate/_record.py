"""From raw model text to the parsed fields of a Response, and the case sets responses refer to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from db.models import TASK_MULTIPLE_CHOICE, Case, CaseSet
from pipeline.cases import SHIPPED_CASES, import_cases, load_mapping, read_case_file, shipped_case_sets
from pipeline.errors import DxTraceError
from pipeline.generate._parse import parse_choice, parse_diagnoses, split_reasoning

NO_DIAGNOSIS = "no diagnosis found in the answer"
NO_OPTION = "no single option found in the answer"
EMPTY = "the answer is empty"


@dataclass(frozen=True)
class ParsedOutput:
    trace: str | None
    answer: str
    diagnoses: list[str] | None
    chosen_option: str | None
    parse_ok: bool
    parse_error: str | None


def parse_output(
    raw: str | None,
    *,
    task: str,
    options: list[str] | None = None,
    trace: str | None = None,
    answer: str | None = None,
    k: int = 5,
) -> ParsedOutput:
    """Split and parse one output. A separate trace/answer (from the server or the file) wins over inline tags."""
    inline_trace, inline_answer = split_reasoning(answer if answer is not None else raw)
    traces = [t for t in (trace, inline_trace) if t and t.strip()]
    full_trace = "\n\n".join(t.strip() for t in traces) or None
    text = inline_answer
    if not text.strip():
        return ParsedOutput(full_trace, text, [] if task != TASK_MULTIPLE_CHOICE else None, None, False, EMPTY)
    if task == TASK_MULTIPLE_CHOICE:
        chosen = parse_choice(text, list(options or []))
        return ParsedOutput(full_trace, text, None, chosen, chosen is not None, None if chosen else NO_OPTION)
    diagnoses = parse_diagnoses(text, k=k)
    return ParsedOutput(full_trace, text, diagnoses, None, bool(diagnoses), None if diagnoses else NO_DIAGNOSIS)


def ensure_case_set(session: Session, name: str) -> CaseSet:
    """The case set by name; a shipped set missing from the database is imported first."""
    found = session.exec(select(CaseSet).where(CaseSet.name == name)).first()
    if found:
        return found
    if name not in shipped_case_sets():
        raise DxTraceError(
            f"case set {name!r} is not in the database; import it first: python -m pipeline import-cases <file> --name {name}"
        )
    folder = SHIPPED_CASES / name
    mapping = load_mapping(folder / "mapping.toml")
    path = next(p for p in sorted(folder.iterdir()) if p.suffix in (".jsonl", ".csv"))
    import_cases(session, read_case_file(path, mapping), name=name, mapping=mapping, source=str(path))
    session.flush()
    return session.exec(select(CaseSet).where(CaseSet.name == name)).one()


def cases_by_key(session: Session, case_set: CaseSet) -> dict[str, Case]:
    return {c.case_key: c for c in session.exec(select(Case).where(Case.case_set_id == case_set.id))}
