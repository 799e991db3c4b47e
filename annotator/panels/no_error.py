"""'No reasoning error' says one of two things (see the codebook): the answer is right and its grade wrong,
or the reasoning is sound on an ambiguous case. The annotator says which. 'The answer is correct' records a
clinician grade with the save (mark_answer_correct: audited, it wins over the automatic grade and takes the
item out of the reasoning queue), so the grade follows the label instead of silently staying wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from sqlmodel import Session

from annotator import _ui
from annotator.registry import ViewContext
from pipeline.annotation import listed_diagnoses, mark_answer_correct, why_wrong
from pipeline.errors import InputError, Problem

WHY_KEY = "lbl_no_error_why"
RANK_KEY = "lbl_no_error_rank"
LOADED_FOR = "lbl_no_error_for"  # the response whose stored grade set the default choice
ANSWER_CORRECT = "answer_correct"
GRADE_STANDS = "grade_stands"
REASONS = {
    ANSWER_CORRECT: "The answer is correct: its grade is wrong (records your grade)",
    GRADE_STANDS: "The reasoning is sound on an ambiguous case: the grade stands",
}


def reason_problem(why: str | None, n_listed: int) -> Problem | None:
    """What is missing before 'no reasoning error' can be saved (None: nothing)."""
    if why is None:
        return Problem(None, None, "no reasoning error", "say why: the answer is correct, or the grade stands")
    if why == ANSWER_CORRECT and n_listed == 0:
        return Problem(
            None, None, "no reasoning error", "no diagnoses were parsed from the answer: flag the item for the lead"
        )
    return None


def show_no_error_reason(ctx: ViewContext, response_id: int) -> None:
    """Under the ticked 'no reasoning error': why, and the listed diagnosis that is the gold if the answer is right."""
    state = st.session_state
    with _ui.session(ctx.engine) as s:
        why = why_wrong(s, response_id)
        listed = listed_diagnoses(s, response_id)
    if state.get(LOADED_FOR) != response_id:  # a saved item: the stored grade tells which it was
        state[LOADED_FOR] = response_id
        state[WHY_KEY] = ANSWER_CORRECT if why and why.graded_by_clinician and why.correct else None
        closest = why.closest_rank if why and why.closest_rank else 1
        state[RANK_KEY] = closest if 1 <= closest <= len(listed) else (1 if listed else None)
    st.radio(
        "Why no reasoning error?",
        options=list(REASONS),
        format_func=REASONS.get,
        key=WHY_KEY,
        index=None,
    )
    if state.get(WHY_KEY) == ANSWER_CORRECT:
        if listed:
            st.selectbox(
                "Listed diagnosis that is the gold",
                options=list(range(1, len(listed) + 1)),
                format_func=lambda r: f"{r}. {_ui.md_line(listed[r - 1])}",
                key=RANK_KEY,
            )
        else:
            st.caption("No diagnoses were parsed from the answer: flag the item for the lead instead.")


def regrade_on_save(ctx: ViewContext, response_id: int) -> Callable[[Session], None] | None:
    """What the save does to the grade: a clinician grade when the annotator says the answer is correct."""
    state = st.session_state
    if state.get(WHY_KEY) != ANSWER_CORRECT:
        return None
    rank = int(state[RANK_KEY])

    def regrade(s: Session) -> None:
        now = why_wrong(s, response_id)
        if now is not None and now.graded_by_clinician and now.correct:
            return  # already recorded as correct (a saved item changed again)
        mark_answer_correct(
            s,
            study_id=ctx.study_id,
            response_id=response_id,
            annotator_id=ctx.annotator_id,
            rank=rank,
            note="no reasoning error: the answer is correct",
        )

    return regrade


def check_reason(ctx: ViewContext, response_id: int) -> None:
    """Raise InputError when 'no reasoning error' is ticked without a reason the save can act on."""
    with _ui.session(ctx.engine) as s:
        n_listed = len(listed_diagnoses(s, response_id))
    problem = reason_problem(st.session_state.get(WHY_KEY), n_listed)
    if problem is not None:
        raise InputError(problem)
