"""The annotation view: case, gold diagnosis, answer, the trace in numbered steps, and the labels."""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from annotator.panels.answer_only import show_answer_only_panel
from annotator.panels.evidence import evidence_field, highlight_style, mark_mode_picker, show_step
from annotator.panels.instruction import show_task_instruction
from annotator.panels.layout import sticky_labels
from annotator.panels.no_error import check_reason, regrade_on_save, show_no_error_reason
from annotator.panels.save import record_item
from annotator.panels.similar import load_similar_panel, show_similar_panel
from annotator.panels.why_wrong import show_why_wrong_panel
from annotator.registry import ViewContext, view
from db.models import Study, utcnow
from pipeline.annotation import (
    CONFIDENCE_KEY,
    CONFIDENCE_RANGE,
    FIRST_STEP_KEY,
    OTHER_KEY,
    RATIONALE_KEY,
    SEVERITIES,
    SEVERITY_KEY,
    STEPS_PER_PAGE,
    Codebook,
    Item,
    ItemClock,
    annotation_history,
    annotator_queue,
    event_changes,
    form_state,
    labels_from_annotation,
    labels_from_state,
    load_item,
    mode_key,
    next_response_id,
    previous_in_queue,
    progress,
    queue_label,
    study_codebook,
    trace_window,
)
from pipeline.errors import DxTraceError
from pipeline.signals import SignalsOnScreen, signals_on_screen

CURRENT = "dx_current_response"  # {study_id: response_id} of the item on screen
LOADED = "lbl_loaded_for"  # (study_id, response_id) whose labels fill the form
TRACE_PAGE = "trace_page"
TRACE_QUERY = "trace_query"
SHORTCUTS = [
    ("1–5", "tick an error mode"),
    ("M", "mark the step in view as evidence"),
    ("E", "mark the step in view as the first error"),
    ("7 8 9 0", "severity minor · moderate · major · critical"),
    ("Alt+1–5", "confidence"),
    ("Ctrl+Enter", "save & next"),
    ("S", "skip"),
    ("F", "flag for discussion"),
    ("B", "previous item"),
    ("/", "search the trace"),
    ("N / P", "next / previous page of steps"),
]


def _current_id(ctx: ViewContext) -> int | None:
    chosen = st.session_state.setdefault(CURRENT, {})
    rid = chosen.get(ctx.study_id)
    if rid is None:
        with _ui.session(ctx.engine) as s:
            rid = next_response_id(s, ctx.study_id, ctx.annotator_id)
        chosen[ctx.study_id] = rid
    return rid


def _go_to(ctx: ViewContext, rid: int | None) -> None:
    st.session_state.setdefault(CURRENT, {})[ctx.study_id] = rid


CLOCK = "dx_item_clock"  # (response_id, ItemClock) of the visit to the item on screen


def _clock(rid: int) -> ItemClock:
    """This visit's clock, moved on by the action that caused this run (a new visit starts the clock)."""
    now = utcnow()
    held = st.session_state.get(CLOCK)
    clock = held[1].tick(now) if held and held[0] == rid else ItemClock.start(now)
    st.session_state[CLOCK] = (rid, clock)
    return clock


def _moved_on(ctx: ViewContext, after: int | None, notice: str) -> None:
    st.session_state["lbl_notice"] = notice
    _go_to(ctx, after)


def _fill_form(item: Item, codebook: Codebook) -> None:
    """Put this item's saved labels (or an empty form) into the widgets, once per item."""
    key = (item.study_id, item.response_id)
    if st.session_state.get(LOADED) == key:
        return
    for k, v in form_state(labels_from_annotation(item.annotation), codebook, item.n_steps).items():
        st.session_state[k] = v
    st.session_state[TRACE_PAGE] = 1
    st.session_state[TRACE_QUERY] = ""
    st.session_state[LOADED] = key
    st.session_state.pop("lbl_error", None)


def _codebook(ctx: ViewContext) -> tuple[int, Codebook]:
    with _ui.session(ctx.engine) as s:
        return study_codebook(s, s.get(Study, ctx.study_id))


def _queue_picker(ctx: ViewContext, rid: int | None) -> None:
    with _ui.session(ctx.engine) as s:
        queue = annotator_queue(s, ctx.study_id, ctx.annotator_id)
    ids = [q.response_id for q in queue]
    labels = {q.response_id: f"Item {queue_label(q).strip()}" for q in queue}

    def pick() -> None:
        _go_to(ctx, st.session_state["queue_pick"])

    st.session_state["queue_pick"] = rid if rid in labels else None
    st.selectbox(
        "Go to item",
        options=ids,
        format_func=lambda r: labels[r],
        key="queue_pick",
        on_change=pick,
        placeholder="Choose an item to review or change",
        help="✓ done · ⚑ flagged · ↷ skipped · ○ to do",
    )


def _previous_button(ctx: ViewContext, rid: int | None) -> None:
    with _ui.session(ctx.engine) as s:
        before = previous_in_queue(annotator_queue(s, ctx.study_id, ctx.annotator_id), rid)
    st.button(
        "◀ Previous item (B)",
        key="prev_item",
        disabled=before is None,
        on_click=lambda: _go_to(ctx, before),
    )


def _case_panel(item: Item) -> None:
    st.subheader("Case")
    facts = [f for f in (item.specialty, item.incidence, f"case {item.case_key}") if f]
    if item.model_name:
        facts.append(f"model {item.model_name}")
    st.caption(" · ".join(_ui.md_line(f) for f in facts))
    with st.container(key="vignette"):  # the whole vignette: the page scrolls, the labels stay in view
        _ui.show_markdown(item.vignette)
    st.markdown("**Gold diagnosis**")
    _ui.show_text(item.gold_diagnosis)
    st.markdown("**Final answer: diagnoses as parsed**")
    if item.diagnoses:
        _ui.show_text("\n".join(f"{i}. {d}" for i, d in enumerate(item.diagnoses, 1)))
    elif item.chosen_option:
        _ui.show_text(f"Chosen option: {item.chosen_option}")
    else:
        st.caption("No diagnoses could be parsed from the answer.")
    with st.expander("Final answer as written"):
        _ui.show_text(item.answer)


def _jump_to(step: int) -> None:
    # A callback runs before the widgets of the next run exist, so the search box may still be cleared.
    st.session_state[TRACE_QUERY] = ""
    st.session_state[TRACE_PAGE] = (step - 1) // STEPS_PER_PAGE + 1


def _signals_box(on_screen: SignalsOnScreen) -> None:
    """The signals that fired, one line each, with a jump to their steps (only when the lead allows it)."""
    if not on_screen.signals:
        return
    with st.container(border=True, key="signals_box"):
        st.markdown("**Automatic signals** · evidence to weigh, not labels: decide from the trace")
        for i, sig in enumerate(on_screen.signals):
            st.markdown(f":orange[◆] **{_ui.md_line(sig.title)}**: {_ui.md_line(sig.why)}")
            for q in sig.case_quotes:
                st.caption(f"Case: “{_ui.md_line(q)}”")
            if sig.steps:
                cols = st.columns(min(6, len(sig.steps)))
                for j, step in enumerate(sig.steps[:6]):
                    cols[j].button(f"Step {step}", key=f"sig_jump_{i}_{step}", on_click=_jump_to, args=(step,))


def _trace_panel(item: Item, codebook: Codebook, on_screen: SignalsOnScreen) -> None:
    st.subheader(f"Reasoning trace · {item.n_steps} steps")
    if not item.steps:
        st.info("This response has no reasoning trace.")
        return
    _signals_box(on_screen)
    flagged = on_screen.by_step()
    query = st.text_input(
        "Search in the trace",
        key=TRACE_QUERY,
        placeholder="words to find (press / to search)",
        on_change=lambda: st.session_state.update({TRACE_PAGE: 1}),
    )
    window = trace_window(item.steps, query, st.session_state.get(TRACE_PAGE, 1), STEPS_PER_PAGE)
    st.session_state[TRACE_PAGE] = window.page
    if window.matches is not None:
        st.caption(window.summary + (f": steps {', '.join(map(str, window.matches[:40]))}" if window.matches else ""))
    nav = st.columns([1, 2, 1])
    if nav[0].button("◀ Previous", key="trace_prev", disabled=window.page <= 1, width="stretch"):
        st.session_state[TRACE_PAGE] = window.page - 1
        st.rerun()
    nav[1].caption(f"page {window.page} of {window.n_pages}", text_alignment="center")
    if nav[2].button("Next ▶", key="trace_next", disabled=window.page >= window.n_pages, width="stretch"):
        st.session_state[TRACE_PAGE] = window.page + 1
        st.rerun()
    with st.container(border=True, key="trace_steps"):
        highlight_style()
        for n in window.numbers:
            marks = flagged.get(n, [])
            if marks:
                st.markdown("".join(f":orange[◆ {_ui.md_line(m.title)}] " for m in marks))
            for q in {q for m in marks for q in m.step_quotes.get(n, ())}:
                st.caption(f"◆ “{_ui.md_line(q)}”")
            show_step(item, n, codebook, query or "")


# Neither panel is an st.fragment: a click that arrives while a fragment reruns can be dropped, and a
# whole rerun of this page takes well under 100 ms on the server (docs/benchmarks.md).
def _labels_panel(
    ctx: ViewContext, item: Item, codebook_id: int, codebook: Codebook, suggestion: dict | None, signals: dict | None
) -> None:
    st.subheader("Labels")
    state = st.session_state
    for i, mode in enumerate(codebook.error_modes, 1):
        st.checkbox(
            f"{i} · {_ui.md_line(mode.name)}",
            key=mode_key(mode.code),
            help=f"{_ui.md(mode.definition)}\n\nExample: {_ui.md(mode.example)}",
        )
        if state.get(mode_key(mode.code)):
            if mode.needs_description:
                st.text_input("Describe the error", key=OTHER_KEY, max_chars=500)
            if mode.exclusive:
                show_no_error_reason(ctx, item.response_id)
            else:
                evidence_field(mode.code, mode.name, item.n_steps)
    mark_mode_picker(codebook)
    no_error = any(state.get(mode_key(m.code)) for m in codebook.error_modes if m.exclusive)
    # A number, not a filtering drop-down: typing 8 then Enter is step 8, never "steps 8 and 18".
    st.number_input(
        "First erroneous step",
        min_value=1,
        max_value=item.n_steps,
        value=None,
        step=1,
        key=FIRST_STEP_KEY,
        placeholder="a step number (or E on a step)",
        disabled=no_error,
    )
    st.radio("Severity", options=list(SEVERITIES), key=SEVERITY_KEY, horizontal=True, index=None, disabled=no_error)
    lo, hi = CONFIDENCE_RANGE
    st.radio(
        "Confidence",
        options=list(range(lo, hi + 1)),
        key=CONFIDENCE_KEY,
        horizontal=True,
        index=None,
        help="1 = unsure, 5 = certain",
    )
    st.text_area("Rationale", key=RATIONALE_KEY, height=120, placeholder="why, in a sentence or two")

    def act(kind: str) -> None:
        then = None
        if kind == "save" and no_error:  # which of the two things 'no reasoning error' says decides the grade
            try:
                check_reason(ctx, item.response_id)
            except DxTraceError as exc:
                state["lbl_error"] = exc
                return
            then = regrade_on_save(ctx, item.response_id)
        done, after = record_item(
            ctx,
            item.response_id,
            kind,
            lambda: {
                "labels": labels_from_state(state, codebook, flagged=kind == "flag"),
                "suggestion": suggestion,
                "signals": signals,
                "signals_shown": signals is not None,
                "clock": _clock(item.response_id),
            },
            then,
        )
        if not done:
            return
        state.pop(CLOCK, None)
        notices = {"save": "Saved.", "flag": "Saved and flagged for discussion.", "skip": "Skipped."}
        state["lbl_notice"] = "Saved; your grade records the answer as correct." if then else notices[kind]
        _go_to(ctx, after)

    cols = st.columns(3)
    cols[0].button("Save & next", key="save", type="primary", on_click=act, args=("save",), width="stretch")
    cols[1].button("Skip", key="skip", on_click=act, args=("skip",), width="stretch")
    cols[2].button("Flag for discussion", key="flag", on_click=act, args=("flag",), width="stretch")
    if state.get("lbl_error") is not None:
        _ui.show_error(state["lbl_error"])
    st.caption("Keys: " + _ui.shortcut_legend(SHORTCUTS))


def _history(ctx: ViewContext, item: Item, codebook: Codebook) -> None:
    if item.annotation is None:
        return
    with _ui.session(ctx.engine) as s:
        events = annotation_history(s, item.annotation.id)
    with st.expander(f"History of your labels ({len(events)} change{'s' if len(events) != 1 else ''})"):
        for e in reversed(events):
            st.markdown(f"**{e.action}** · {e.at:%Y-%m-%d %H:%M} UTC")
            rows = [{"field": f, "before": b, "after": a} for f, b, a in event_changes(e, codebook)]
            if rows:  # an HTML table: its cells wrap, a narrow column never cuts a value off
                st.table(rows, hide_index=True)


def _others(item: Item, codebook: Codebook) -> None:
    if not item.others:
        return
    with st.expander(f"Other annotators' labels ({len(item.others)})"):
        for o in item.others:
            names = ", ".join(codebook.name_of(c) for c in o.error_modes) or "none"
            st.markdown(f"**{_ui.md_line(o.username)}**: {_ui.md_line(names)}")
            if o.rationale:
                _ui.show_text(o.rationale)


@view("Annotate", slug="annotate", order=10, icon=":material/edit_note:")
def render(ctx: ViewContext) -> None:
    if ctx.study_id is None:
        st.info("No items are assigned to you yet. Your study lead assigns them.")
        return
    with _ui.session(ctx.engine) as s:
        mine = progress(s, ctx.study_id, ctx.annotator_id)
    if not mine.assigned:
        st.info("No items of this study are assigned to you yet.")
        return
    top = st.columns([2, 3])
    top[0].progress(mine.fraction, text=f"Progress: {mine.label()}")
    rid = _current_id(ctx)
    with top[1]:
        _queue_picker(ctx, rid)
        _previous_button(ctx, rid)
    notice = st.session_state.pop("lbl_notice", None)
    if notice:
        st.toast(notice)
    if rid is None:
        st.success(f"All {mine.assigned} items are labelled. Choose one above to review or change it.")
        return
    codebook_id, codebook = _codebook(ctx)
    try:
        with _ui.session(ctx.engine) as s:
            item = load_item(s, ctx.study_id, rid, ctx.annotator_id)
    except DxTraceError:  # e.g. unassigned meanwhile: start from the next one
        _go_to(ctx, None)
        st.rerun()
    _fill_form(item, codebook)
    _clock(item.response_id)
    status = {"done": "labelled", "flagged": "flagged for discussion", "skipped": "skipped", "pending": "to do"}
    st.markdown(f"#### Item {item.position} of {mine.assigned} · {status.get(item.status, item.status)}")
    if item.steps:  # the instruction asks to judge a trace: an answer-only item has none
        show_task_instruction(codebook)

    with _ui.session(ctx.engine) as s:
        on_screen = signals_on_screen(s, ctx.study_id, item.response_id)
    left, right = st.columns([3, 2], gap="large")
    right = sticky_labels(right)
    with left:
        _case_panel(item)
        show_why_wrong_panel(ctx, item.response_id, lambda after, notice: _moved_on(ctx, after, notice))
        _trace_panel(item, codebook, on_screen)
    if not item.steps:  # nothing to judge for reasoning error modes: no modes, no similar traces
        with right:
            show_answer_only_panel(ctx, item, lambda after, notice: _moved_on(ctx, after, notice))
        _ui.keyboard_shortcuts({"s": "skip", "f": "flag"})
        return
    # Computed before the labels so that Save records exactly what the panel shows; drawn after them so
    # the labels stay at the top of the column.
    similar = load_similar_panel(ctx, item.response_id)
    with right:
        suggestion = similar.recorded() if similar else None
        _labels_panel(ctx, item, codebook_id, codebook, suggestion, on_screen.recorded())
        if similar is not None:
            show_similar_panel(similar)
        with st.expander(f"Codebook (version {_ui.md_line(codebook.version)})"):
            for i, mode in enumerate(codebook.error_modes, 1):
                st.markdown(f"**{i} · {_ui.md_line(mode.name)}**")
                st.caption(_ui.md(mode.definition))
                st.caption(f"Example: {_ui.md(mode.example)}")
        _history(ctx, item, codebook)
        _others(item, codebook)
    bindings = {str(i): mode_key(m.code) for i, m in enumerate(codebook.error_modes, 1) if i <= 9}
    bindings.update({"ctrl+enter": "save", "s": "skip", "f": "flag", "/": TRACE_QUERY})
    bindings.update({"n": "trace_next", "p": "trace_prev", "b": "prev_item"})
    bindings.update({"m": "mark_@step", "e": "first_@step"})  # the step focused, or in view
    bindings.update({k: f"{SEVERITY_KEY}#{i}" for i, k in enumerate("7890"[: len(SEVERITIES)])})
    lo, hi = CONFIDENCE_RANGE
    bindings.update({f"alt+{v}": f"{CONFIDENCE_KEY}#{v - lo}" for v in range(lo, hi + 1) if v <= 9})
    _ui.keyboard_shortcuts(bindings)
