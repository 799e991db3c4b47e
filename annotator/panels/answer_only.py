"""The labels column of an item without a reasoning trace: the error modes judge reasoning, so none are asked.

Such items reach an annotator only when the lead chose to include answer-only responses
(assign --include-answer-only); the annotator can skip the item or flag it with a note.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from annotator import _ui
from annotator.registry import ViewContext
from pipeline.annotation import AnnotationInput, Item, next_response_id, save_annotation, skip_item
from pipeline.errors import DxTraceError

NOTE_KEY = "ao_note"
MESSAGE = (
    "This response has no reasoning trace, so there are no reasoning error modes to judge. "
    "Skip it, or flag it for the study lead with a note (for example if the answer itself needs a look)."
)


def answer_only_labels(note: str) -> AnnotationInput:
    """A flag with the annotator's note and no error modes: nothing about reasoning is claimed."""
    return AnnotationInput(error_modes=[], rationale=note.strip() or None, flagged=True)


def show_answer_only_panel(ctx: ViewContext, item: Item, move_on: Callable[[int | None, str], None]) -> None:
    st.subheader("Labels")
    st.info(MESSAGE)
    st.text_area("Note for the study lead", key=NOTE_KEY, height=100, placeholder="why this item needs a look")

    def act(kind: str) -> None:
        try:
            with _ui.session(ctx.engine) as s:
                if kind == "skip":
                    skip_item(s, study_id=ctx.study_id, response_id=item.response_id, annotator_id=ctx.annotator_id)
                else:
                    save_annotation(
                        s,
                        study_id=ctx.study_id,
                        response_id=item.response_id,
                        annotator_id=ctx.annotator_id,
                        labels=answer_only_labels(st.session_state.get(NOTE_KEY) or ""),
                    )
                after = next_response_id(s, ctx.study_id, ctx.annotator_id, after=item.response_id)
        except DxTraceError as exc:
            st.session_state["lbl_error"] = exc
            return
        st.session_state.pop("lbl_error", None)
        st.session_state[NOTE_KEY] = ""
        move_on(after, {"skip": "Skipped.", "flag": "Flagged for the study lead."}[kind])

    cols = st.columns(2)
    cols[0].button("Skip", key="skip", on_click=act, args=("skip",), width="stretch")
    cols[1].button("Flag for the lead", key="flag", on_click=act, args=("flag",), width="stretch")
    if st.session_state.get("lbl_error") is not None:
        _ui.show_error(st.session_state["lbl_error"])
