"""From raw model text to the parsed fields of a Response, and the case sets responses refer to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from db.models import TASK_MULTIPLE_CHOICE, Case, CaseSet
from pipeline.cases import SHIPPED_CASES, import_cases, load_mapping, read_case_file, shipped_case_sets
from pipeline.errors import DxTraceError
from pipeline.generate._parse import parse_answer, parse_choice, split_answer

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
    reader: str | None = None  # the format readers that split trace and answer ("think_tags+answer_section")
    shape: str | None = None  # "list", "single", or None


def parse_output(
    raw: str | None,
    *,
    task: str,
    options: list[str] | None = None,
    trace: str | None = None,
    answer: str | None = None,
    k: int = 5,
) -> ParsedOutput:
    """Split and parse one output. A separate trace (server field, file column) is kept and the
    answer's own inline reasoning is added to it; a fallback or a guessed split sets parse_ok=False
    with the reason in parse_error, never silently."""
    text = answer if answer is not None else raw
    if task == TASK_MULTIPLE_CHOICE:
        full_trace, ans, reader, note = split_answer(text, trace)
        if not ans.strip():
            return ParsedOutput(full_trace, ans, None, None, False, note or EMPTY, reader)
        chosen = parse_choice(ans, list(options or []))
        error = None if chosen else NO_OPTION
        return ParsedOutput(full_trace, ans, None, chosen, chosen is not None and not note, note or error, reader)
    got = parse_answer(text, k=k, trace=trace)
    if not got.answer.strip() and not got.diagnoses:
        return ParsedOutput(got.trace, got.answer, [], None, False, got.note or EMPTY, got.reader)
    error = got.note or (None if got.diagnoses else NO_DIAGNOSIS)
    return ParsedOutput(got.trace, got.answer, got.diagnoses, None, error is None, error, got.reader, got.shape)


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
