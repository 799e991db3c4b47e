"""Evidence marked in the trace itself: a click on a step marks it for the chosen error mode (or as the
first erroneous step), and marked steps are highlighted where they stand.

Typed steps go through parse_steps, which takes exactly the numbers typed: a filtering drop-down
would offer "Select 2 matches" for '8' (steps 8 and 18), so there is none.
"""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from pipeline.annotation import (
    FIRST_STEP_KEY,
    MARK_MODE_KEY,
    Codebook,
    Item,
    evidence_key,
    evidence_text_key,
    format_steps,
    hit_spans,
    mode_key,
    parse_steps,
    step_marks,
    toggle_step,
)
from pipeline.errors import InputError

# Marked steps get a tinted background (a fixed style of ours, no script).
HIGHLIGHT_CSS = (
    "<style>[class*='st-key-step_']:has([class*='st-key-evmark_']){background:rgba(255,170,0,.14);border-left:4px solid #e08600;"
    "padding:.25rem .5rem;border-radius:.25rem}"
    "mark.dx-hit{background:#ffe066;color:inherit;padding:0 .1em;border-radius:.15em}</style>"
)


def _error_key(code: str) -> str:
    return f"lbl_everr_{code}"


def markable_modes(codebook: Codebook) -> list[str]:
    """The ticked error modes that take evidence steps (not the exclusive 'no reasoning error')."""
    return [m.code for m in codebook.error_modes if not m.exclusive and st.session_state.get(mode_key(m.code))]


def _typed(code: str, n_steps: int) -> None:
    state = st.session_state
    try:
        state[evidence_key(code)] = parse_steps(state.get(evidence_text_key(code)) or "", n_steps)
        state.pop(_error_key(code), None)
    except InputError as exc:
        state[_error_key(code)] = exc.problems[0].message


def evidence_field(code: str, name: str, n_steps: int) -> None:
    """The typed form of a mode's evidence, under its checkbox; a click on a step fills it too."""
    # Streamlit forgets a field that was not drawn (mode unticked); the steps themselves are kept.
    st.session_state.setdefault(evidence_text_key(code), format_steps(st.session_state.get(evidence_key(code)) or []))
    st.text_input(
        f"Evidence steps for {_ui.md_line(name.lower())}",
        key=evidence_text_key(code),
        placeholder="click 'mark' on a step, or type 8, 12-14",
        on_change=_typed,
        args=(code, n_steps),
    )
    if st.session_state.get(_error_key(code)):
        st.error(st.session_state[_error_key(code)])


def current_mark_mode(codebook: Codebook) -> str | None:
    """The mode a click on a step marks: the chosen one while it is ticked, else the first ticked one."""
    codes = markable_modes(codebook)
    if st.session_state.get(MARK_MODE_KEY) not in codes:
        st.session_state[MARK_MODE_KEY] = codes[0] if codes else None
    return st.session_state[MARK_MODE_KEY]


def mark_mode_picker(codebook: Codebook) -> None:
    """Which ticked mode a click on a step marks (shown only when more than one is ticked)."""
    codes = markable_modes(codebook)
    current_mark_mode(codebook)
    if len(codes) > 1:
        st.radio(
            "A click on 'mark' marks evidence for",
            options=codes,
            format_func=lambda c: _ui.md_line(codebook.name_of(c)),
            key=MARK_MODE_KEY,
            horizontal=True,
        )


def _toggle_evidence(code: str, n: int) -> None:
    state = st.session_state
    steps = toggle_step(state.get(evidence_key(code)) or [], n)
    state[evidence_key(code)] = steps
    state[evidence_text_key(code)] = format_steps(steps)
    state.pop(_error_key(code), None)


def _toggle_first(n: int) -> None:
    st.session_state[FIRST_STEP_KEY] = None if st.session_state.get(FIRST_STEP_KEY) == n else n


def show_step(item: Item, n: int, codebook: Codebook, query: str = "") -> None:
    """Step n of the trace with its mark buttons; highlighted when it is marked, its search hits marked."""
    state = st.session_state
    marks = step_marks(state, codebook, n)
    code = current_mark_mode(codebook)
    # The step's key stays the same when it is marked (a changed key would redraw the step's buttons).
    with st.container(key=f"step_{n}"):
        head = st.columns([3, 2, 2], vertical_alignment="center")
        with head[0]:
            if marks:
                with st.container(key=f"evmark_{n}"):
                    st.markdown(f"**Step {n}** · {' · '.join(_ui.md_line(m) for m in marks)}")
            else:
                st.markdown(f"**Step {n}**")
        marked = code is not None and n in (state.get(evidence_key(code)) or [])
        head[1].button(
            ("✓ " if marked else "+ ") + (_ui.md_line(codebook.name_of(code)) if code else "evidence"),
            key=f"mark_{n}",
            on_click=_toggle_evidence,
            args=(code, n),
            disabled=code is None,
            help="tick an error mode first" if code is None else "mark this step as evidence (click again to unmark)",
            width="stretch",
        )
        first = state.get(FIRST_STEP_KEY) == n
        head[2].button(
            "✓ first error" if first else "first error",
            key=f"first_{n}",
            on_click=_toggle_first,
            args=(n,),
            disabled=not markable_modes(codebook),
            width="stretch",
        )
        spans = hit_spans(item.steps[n - 1], query) if query.strip() else []
        if spans:
            _ui.show_text_hits(item.steps[n - 1], spans)
        else:
            _ui.show_text(item.steps[n - 1])


def highlight_style() -> None:
    st.html(HIGHLIGHT_CSS)
