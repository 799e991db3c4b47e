"""The logic of the app's pages as plain functions: form state <-> labels, the visible part of a trace,
queue labels, and readable audit entries. The views only draw what these return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from db.models import AnnotationEvent
from pipeline.annotation._codebook import Codebook
from pipeline.annotation._labels import AUDITED_FIELDS, AnnotationInput
from pipeline.annotation._queue import QueueItem
from pipeline.annotation._steps import n_pages, page_bounds, search_steps

STEPS_PER_PAGE = 20
STATUS_MARK = {"pending": "○", "done": "✓", "flagged": "⚑", "skipped": "↷"}


def mode_key(code: str) -> str:
    return f"lbl_mode_{code}"


def evidence_key(code: str) -> str:
    """Session state (not a widget): the evidence steps chosen for this mode."""
    return f"lbl_ev_{code}"


def evidence_text_key(code: str) -> str:
    """The text field where the evidence steps of this mode can be typed: '8, 12-14' means exactly those."""
    return f"lbl_evtext_{code}"


MARK_MODE_KEY = "lbl_mark_mode"  # the mode a click on a step marks evidence for


def format_steps(steps: list[int]) -> str:
    """Step numbers as typed: runs of three or more collapse to ranges ('2, 5-7')."""
    out: list[str] = []
    ordered = sorted(set(steps))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{ordered[i]}-{ordered[j]}")
        else:
            out.extend(str(n) for n in ordered[i : j + 1])
        i = j + 1
    return ", ".join(out)


def parse_steps(text: str, n_steps: int, field: str = "evidence steps") -> list[int]:
    """Typed step numbers: exactly the numbers and ranges typed, never what merely contains them
    ('8' is step 8, not step 18); a step outside 1..n_steps is an error, not dropped."""
    from pipeline.errors import InputError, Problem

    steps = parse_id_list(text, field)
    outside = [n for n in steps if not 1 <= n <= n_steps]
    if outside:
        shown = ", ".join(map(str, outside[:5]))
        raise InputError(Problem("form", None, field, f"not a step of this trace (1-{n_steps}): {shown}"))
    return steps


def toggle_step(steps: list[int], n: int) -> list[int]:
    """Add step n to the evidence, or take it out if it is there."""
    return sorted(set(steps) ^ {n})


def step_marks(state: Mapping[str, Any], codebook: Codebook, n: int) -> list[str]:
    """What step n is marked as, for its inline highlight: the error modes it is evidence for, first error."""
    marks = [
        m.name
        for m in codebook.error_modes
        if not m.exclusive and state.get(mode_key(m.code)) and n in (state.get(evidence_key(m.code)) or [])
    ]
    if state.get(FIRST_STEP_KEY) == n:
        marks.append("first error")
    return marks


FIRST_STEP_KEY = "lbl_first_step"
SEVERITY_KEY = "lbl_severity"
CONFIDENCE_KEY = "lbl_confidence"
RATIONALE_KEY = "lbl_rationale"
OTHER_KEY = "lbl_other"


def form_state(labels: AnnotationInput, codebook: Codebook, n_steps: int) -> dict[str, Any]:
    """The widget values that show these labels (an empty form for a new item)."""
    state: dict[str, Any] = {}
    for code in codebook.codes:
        state[mode_key(code)] = code in labels.error_modes
        state[evidence_key(code)] = [s for s in labels.evidence.get(code, []) if 1 <= s <= n_steps]
        state[evidence_text_key(code)] = format_steps(state[evidence_key(code)])
    first = labels.first_error_step
    state[FIRST_STEP_KEY] = first if first is not None and 1 <= first <= n_steps else None
    state[SEVERITY_KEY] = labels.severity
    state[CONFIDENCE_KEY] = labels.confidence
    state[RATIONALE_KEY] = labels.rationale or ""
    state[OTHER_KEY] = labels.other_description or ""
    return state


def labels_from_state(state: Mapping[str, Any], codebook: Codebook, *, flagged: bool = False) -> AnnotationInput:
    """The labels the widgets show; evidence of unticked modes is dropped, not an error."""
    modes = [c for c in codebook.codes if state.get(mode_key(c))]
    exclusive = any(codebook.mode(c).exclusive for c in modes)
    evidence = {} if exclusive else {c: sorted(int(s) for s in state.get(evidence_key(c)) or []) for c in modes}
    return AnnotationInput(
        error_modes=modes,
        evidence={c: v for c, v in evidence.items() if v},
        first_error_step=None if exclusive else state.get(FIRST_STEP_KEY),
        severity=None if exclusive else state.get(SEVERITY_KEY),
        confidence=state.get(CONFIDENCE_KEY),
        rationale=(state.get(RATIONALE_KEY) or "").strip() or None,
        other_description=(state.get(OTHER_KEY) or "").strip() or None,
        flagged=flagged,
    )


@dataclass(frozen=True)
class TraceWindow:
    """Which steps to draw: their 1-based numbers, the page, and the search matches."""

    numbers: list[int]
    page: int
    n_pages: int
    matches: list[int] | None  # None: no search

    @property
    def summary(self) -> str:
        if self.matches is None:
            return ""
        n = len(self.matches)
        return f"{n} step{'s' if n != 1 else ''} match" if n else "no step matches"


def trace_window(steps: list[str], query: str = "", page: int = 1, per_page: int = STEPS_PER_PAGE) -> TraceWindow:
    """A page of the trace, or of the steps that match the search: a long trace is never drawn whole."""
    if query.strip():
        matches = search_steps(steps, query)
        pages = n_pages(len(matches), per_page)
        start, end = page_bounds(len(matches), page, per_page)
        return TraceWindow(matches[start:end], min(max(1, page), pages), pages, matches)
    pages = n_pages(len(steps), per_page)
    start, end = page_bounds(len(steps), page, per_page)
    return TraceWindow(list(range(start + 1, end + 1)), min(max(1, page), pages), pages, None)


def page_of_step(step: int, per_page: int = STEPS_PER_PAGE) -> int:
    return (step - 1) // per_page + 1


def previous_in_queue(queue: list[QueueItem], response_id: int | None) -> int | None:
    """The item before this one in the annotator's own order (None for the first, or if not in the queue)."""
    ids = [q.response_id for q in queue]
    if response_id not in ids:
        return ids[-1] if ids and response_id is None else None
    i = ids.index(response_id)
    return ids[i - 1] if i > 0 else None


def queue_label(item: QueueItem) -> str:
    return f"{item.position:>4}  {STATUS_MARK.get(item.status, '?')} {item.status}"


def _show(value: Any, codebook: Codebook | None) -> str:
    if value is None or value == [] or value == {}:
        return "—"
    if isinstance(value, list) and codebook is not None:
        return ", ".join(codebook.name_of(v) if isinstance(v, str) else str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(
            f"{codebook.name_of(k) if codebook else k}: steps {', '.join(map(str, v))}" for k, v in value.items()
        )
    return str(value)


def event_changes(event: AnnotationEvent, codebook: Codebook | None = None) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field this audit event changed."""
    before = event.before or {}
    after = event.after or {}
    out = []
    for f in AUDITED_FIELDS:
        if f == "codebook_version_id" and event.before is None:
            continue
        b, a = before.get(f), after.get(f)
        if b != a and not (event.before is None and a in (None, [], {}, False, "")):
            out.append(
                (f.replace("_", " "), _show(b, codebook) if event.before is not None else "", _show(a, codebook))
            )
    return out


def parse_id_list(text: str, field: str = "response ids") -> list[int]:
    """Response ids typed or pasted by a lead: separated by commas, spaces or lines; ranges like 10-20."""
    from pipeline.errors import InputError, Problem

    ids: list[int] = []
    bad: list[str] = []
    for token in text.replace(",", " ").split():
        lo, sep, hi = token.partition("-")
        if sep and lo.isdigit() and hi.isdigit() and int(lo) <= int(hi):
            ids.extend(range(int(lo), int(hi) + 1))
        elif token.isdigit():
            ids.append(int(token))
        else:
            bad.append(token)
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5])
        raise InputError(Problem("form", None, field, f"not a response id or range: {shown}"))
    return sorted(set(ids))
