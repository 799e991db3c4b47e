"""The lead's assignment page: which responses, to whom, how many annotators per item."""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from pipeline.annotation import (
    Selection,
    assign,
    default_selection,
    list_annotators,
    parse_id_list,
    responses_with_trace,
)
from pipeline.errors import DxTraceError

CHOICES = {
    "incorrect": "Incorrect responses with a reasoning trace (graded wrong)",
    "traced": "All responses with a reasoning trace",
    "ids": "These response ids",
}


def chosen_responses(
    session, study_id: int, choice: str, ids_text: str = "", *, include_answer_only: bool = False
) -> Selection:
    """The responses a choice of the form stands for, and what the default choice left out."""
    if choice == "incorrect":
        return default_selection(session, study_id, include_answer_only=include_answer_only)
    if choice == "traced":
        return Selection(responses_with_trace(session, study_id))
    return Selection(parse_id_list(ids_text))


def chosen_response_ids(session, study_id: int, choice: str, ids_text: str = "") -> list[int]:
    return chosen_responses(session, study_id, choice, ids_text).response_ids


@view("Assignment", slug="assignment", roles=ROLES_LEAD, order=61, icon=":material/assignment_ind:")
def render(ctx: ViewContext) -> None:
    st.title("Assignment")
    if ctx.study_id is None:
        st.info("There is no study yet. Create one with: python -m pipeline study")
        return
    with _ui.session(ctx.engine) as s:
        people = [p for p in list_annotators(s, active_only=True)]
    if not people:
        st.info("No accounts yet. Add annotators with: python -m pipeline users add NAME --role annotator")
        return
    names = {p.id: f"{p.username} ({p.role})" for p in people}
    st.caption(
        "Each item goes to the chosen number of annotators, the load is balanced, and every annotator gets "
        "their own random order. Assigning again adds to what is there."
    )
    with st.form("assign_form"):
        choice = st.radio("Responses", options=list(CHOICES), format_func=CHOICES.get, key="assign_choice")
        answer_only = st.checkbox(
            "Also incorrect answer-only responses (no trace: nothing to judge but the answer)",
            key="assign_answer_only",
        )
        ids_text = st.text_area(
            "Response ids (for 'These response ids')", key="assign_ids", placeholder="12, 15, 20-30"
        )
        annotator_ids = st.multiselect(
            "Annotators",
            options=list(names),
            default=[p.id for p in people if p.role == "annotator"],
            format_func=names.get,
            key="assign_annotators",
        )
        cols = st.columns(4)
        per_item = cols[0].number_input("Annotators per item", min_value=1, max_value=20, value=2, key="assign_per")
        extra_share = cols[1].number_input(
            "Share of items to more annotators", min_value=0.0, max_value=1.0, value=0.0, step=0.05, key="assign_share"
        )
        extra_per_item = cols[2].number_input(
            "Annotators for that share", min_value=1, max_value=20, value=3, key="assign_extra"
        )
        seed = cols[3].number_input("Random seed", min_value=0, value=0, key="assign_seed")
        submitted = st.form_submit_button("Assign", type="primary")
    if not submitted:
        return
    try:
        with _ui.session(ctx.engine) as s:
            chosen = chosen_responses(s, ctx.study_id, choice, ids_text, include_answer_only=answer_only)
            report = assign(
                s,
                ctx.study_id,
                response_ids=chosen.response_ids,
                annotator_ids=annotator_ids,
                per_item=int(per_item),
                extra_share=float(extra_share),
                extra_per_item=int(extra_per_item),
                seed=int(seed),
            )
    except DxTraceError as exc:
        _ui.show_error(exc)
        return
    st.success(_ui.md(report.summary()))
    if any(chosen.left_out.values()):
        st.info(_ui.md(chosen.note() + ". Tick 'Also incorrect answer-only responses' to include them."))
    st.dataframe(
        [{"annotator": n, "new": report.added[n], "total": report.load[n]} for n in report.load],
        hide_index=True,
    )
