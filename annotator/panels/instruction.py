"""A short task instruction above the item until the annotator dismisses it (once per sign-in)."""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from pipeline.annotation import Codebook

DISMISSED = "dx_instruction_dismissed"


def instruction_text(codebook: Codebook) -> str:
    """What is judged and how the codebook applies; plain text (the codebook is the lead's, not model output)."""
    names = ", ".join(m.name for m in codebook.error_modes if not m.exclusive)
    return (
        "Each item is a model's answer that was graded wrong. Judge its reasoning trace: tick every error mode "
        f"of the codebook (version {codebook.version}: {names}) that the trace shows, mark the steps that show "
        "it, and the first erroneous step. If the answer is in fact right, say so in the grading box under the "
        "answer; if you are unsure, flag the item with a note for the lead. The codebook's definitions are at "
        "the bottom of the labels column."
    )


def show_task_instruction(codebook: Codebook) -> None:
    if st.session_state.get(DISMISSED):
        return
    with st.container(border=True, key="task_instruction"):
        cols = st.columns([6, 1], vertical_alignment="center")
        cols[0].markdown("**Your task** · " + _ui.md(instruction_text(codebook)))  # codebook text can arrive by import
        cols[1].button("Got it", key="dismiss_instruction", on_click=lambda: st.session_state.update({DISMISSED: True}))
