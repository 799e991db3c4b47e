"""On the item: why its answer was graded wrong, and a one-click "this answer is actually correct"."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from annotator import _ui
from annotator.registry import ViewContext
from pipeline.annotation import listed_diagnoses, mark_answer_correct, next_response_id, why_wrong
from pipeline.errors import DxTraceError

RANK_KEY = "ww_rank"
CORRECT_KEY = "answer_correct"


def show_why_wrong_panel(ctx: ViewContext, response_id: int, move_on: Callable[[int | None, str], None]) -> None:
    with _ui.session(ctx.engine) as s:
        why = why_wrong(s, response_id)
        listed = listed_diagnoses(s, response_id)
    with st.container(border=True, key="why_wrong"):
        st.markdown("**Why this answer was graded wrong**")
        if why is None:
            st.caption("This response has no grade.")
            return
        _ui.show_text("\n".join(why.lines()))
        if why.graded_by_clinician:
            return
        if not listed:
            st.caption("No diagnoses were parsed from the answer, so there is none to mark as the gold.")
            return
        default = why.closest_rank if why.closest_rank and 1 <= why.closest_rank <= len(listed) else 1
        rank_key = f"{RANK_KEY}_{response_id}"  # one per item: another item starts from its own closest
        cols = st.columns([3, 2])
        cols[0].selectbox(
            "Listed diagnosis that is the gold",
            options=list(range(1, len(listed) + 1)),
            format_func=lambda r: f"{r}. {listed[r - 1]}",
            index=default - 1,
            key=rank_key,
        )

        def act() -> None:
            try:
                with _ui.session(ctx.engine) as s:
                    after = next_response_id(s, ctx.study_id, ctx.annotator_id, after=response_id)
                    mark_answer_correct(
                        s,
                        study_id=ctx.study_id,
                        response_id=response_id,
                        annotator_id=ctx.annotator_id,
                        rank=int(st.session_state[rank_key]),
                    )
            except DxTraceError as exc:
                st.session_state["lbl_error"] = exc
                return
            move_on(after, "Recorded as correct; the item left the reasoning queue.")

        cols[1].button(
            "This answer is actually correct",
            key=CORRECT_KEY,
            on_click=act,
            width="stretch",
            help="Records your grade (it wins over the automatic one, with your name) and removes the item from "
            "the reasoning queue.",
        )
