"""The labels column of an item without a reasoning trace: the error modes judge reasoning, so none are asked.

Such items reach an annotator only when the lead chose to include answer-only responses
(assign --include-answer-only); the annotator can skip the item or flag it with a note.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from annotator import _ui
from annotator.panels.save import record_item
from annotator.registry import ViewContext
from pipeline.annotation import AnnotationInput, Item

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
        note = st.session_state.get(NOTE_KEY) or ""
        done, after = record_item(ctx, item.response_id, kind, lambda: {"labels": answer_only_labels(note)})
        if done:
            st.session_state[NOTE_KEY] = ""
            move_on(after, {"skip": "Skipped.", "flag": "Flagged for the study lead."}[kind])

    cols = st.columns(2)
    cols[0].button("Skip", key="skip", on_click=act, args=("skip",), width="stretch")
    cols[1].button("Flag for the lead", key="flag", on_click=act, args=("flag",), width="stretch")
    if st.session_state.get("lbl_error") is not None:
        _ui.show_error(st.session_state["lbl_error"])
