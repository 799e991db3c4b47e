"""The grading view: a clinician settles the uncertain grades (is the gold diagnosis among those listed?)."""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from annotator.registry import ViewContext, view
from db.models import Annotator, Study
from pipeline.annotation import may_grade
from pipeline.errors import DxTraceError

NONE = 0  # the radio value for "none of them"
SKIPPED = "grade_skipped"  # response ids this person put aside in this session
NOTE_KEY = "grade_note"
SHORTCUTS = [
    ("1–9", "the listed diagnosis that is the gold"),
    ("0", "none of them"),
    ("N", "write a note"),
    ("Ctrl+Enter", "record grade"),
    ("S", "skip for now"),
    ("G", "what the grader found"),
]


def grade_choices(diagnoses: list[str]) -> list[int]:
    """The radio options: the rank of each listed diagnosis, then 0 for none of them."""
    return [*range(1, len(diagnoses) + 1), NONE]


def choice_label(diagnoses: list[str], choice: int) -> str:
    return "None of them matches the gold diagnosis" if choice == NONE else f"{choice}. {diagnoses[choice - 1]}"


def grade_bindings(response_id: int, n_listed: int) -> dict[str, str]:
    """Keys of the grading page for the item on screen (the same handler as the annotation view's)."""
    radio = f"grade_choice_{response_id}"
    keys = {str(r): f"{radio}#{r - 1}" for r in range(1, min(n_listed, 9) + 1)}
    keys["0"] = f"{radio}#{n_listed}"  # "none of them" is the last option
    keys.update({"n": f"{NOTE_KEY}_{response_id}", "ctrl+enter": "grade_save", "s": "grade_skip"})
    keys["g"] = "grade_found"
    return keys


@view("Grading", slug="grade", order=20, icon=":material/fact_check:")
def render(ctx: ViewContext) -> None:
    st.title("Grading of uncertain matches")
    if ctx.study_id is None:
        st.info("No study yet.")
        return
    from pipeline.accuracy import pending_grades, record_clinician_grade

    with _ui.session(ctx.engine) as s:
        study = s.get(Study, ctx.study_id)
        allowed = may_grade(s, s.get(Annotator, ctx.annotator_id), ctx.study_id)
        pending = pending_grades(s, ctx.study_id) if allowed else []
    if not allowed:
        st.info("Grading is not enabled for your account in this study. Your study lead can allow it.")
        return
    skipped = st.session_state.setdefault(SKIPPED, set())
    waiting = [p for p in pending if p.response_id not in skipped] or pending
    st.caption(
        f"{len(pending)} grade(s) waiting. The automatic grader was unsure whether the gold diagnosis is among "
        "the diagnoses listed; pick the one that matches it, or none."
    )
    notice = st.session_state.pop("grade_notice", None)
    if notice:
        st.success(notice)
    if not pending:
        st.success("No uncertain grades are waiting.")
        return
    item = waiting[0]
    facts = [item.case_set, f"case {item.case_key}"]
    if not study.blind_models:
        facts.append(f"model {item.model}")
    left, right = st.columns([3, 2], gap="large")
    with left, st.container(key="grade_case"):
        st.subheader("Case")
        st.caption(" · ".join(_ui.md_line(f) for f in facts))
        _ui.show_text(item.vignette)
        with st.expander("Final answer as written"):
            _ui.show_text(item.answer)
    with right:
        st.subheader("Gold diagnosis")
        _ui.show_text(item.gold_diagnosis)
        if item.synonyms:
            st.caption("Accepted synonyms")
            _ui.show_text("; ".join(item.synonyms))
        st.subheader("Diagnoses listed")
        if not item.diagnoses:
            st.caption("No diagnoses were parsed from the answer; read it on the left.")
        shown = [_ui.md_line(d) for d in item.diagnoses]
        choice = st.radio(
            "Which listed diagnosis is the gold diagnosis?",
            options=grade_choices(item.diagnoses),
            format_func=lambda c: choice_label(shown, c),  # radio options are Markdown
            index=None,
            key=f"grade_choice_{item.response_id}",
        )
        if item.candidates:
            with st.container(key="grade_found"), st.expander("What the grader found (G)"):
                for cand in item.candidates:
                    score = cand.get("score")
                    score_text = f" · score {score:.2f}" if isinstance(score, int | float) else ""
                    st.caption(f"rank {cand.get('rank')} · {cand.get('method')}{score_text}")
        note = st.text_input("Note (optional)", key=f"{NOTE_KEY}_{item.response_id}", placeholder="press N to write")
        cols = st.columns(2)
        record = cols[0].button("Record grade", type="primary", key="grade_save", disabled=choice is None)
        if cols[1].button("Skip for now", key="grade_skip"):
            skipped.add(item.response_id)
            st.rerun()
        st.caption("Keys: " + _ui.shortcut_legend(SHORTCUTS))
    _ui.keyboard_shortcuts(grade_bindings(item.response_id, len(item.diagnoses)))
    if record and choice is not None:
        try:
            with _ui.session(ctx.engine) as s:
                record_clinician_grade(
                    s,
                    response_id=item.response_id,
                    annotator_id=ctx.annotator_id,
                    rank=None if choice == NONE else choice,
                    note=note.strip() or None,
                )
        except DxTraceError as exc:
            _ui.show_error(exc)
            return
        st.session_state["grade_notice"] = f"Recorded: {choice_label(shown, choice)}"
        st.rerun()
