"""Skip or save the item on screen, then find the next one: one way for every labels panel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from annotator import _ui
from annotator.registry import ViewContext
from pipeline.annotation import next_response_id, save_annotation, skip_item
from pipeline.errors import DxTraceError

ERROR_KEY = "lbl_error"
SAVE_CLASH = (
    "This item was being saved from another tab at the same moment, so nothing was saved from "
    "here. Check the labels (the other tab's are stored) and save again."
)


def record_item(
    ctx: ViewContext,
    response_id: int,
    kind: str,
    annotation: Callable[[], dict[str, Any]],
    then: Callable[[Session], None] | None = None,
) -> tuple[bool, int | None]:
    """kind "skip" skips the item; otherwise save_annotation(**annotation()), then `then(session)` in the
    same transaction (e.g. the clinician grade that goes with the labels). Returns (done, next item id).

    A problem is kept in st.session_state[ERROR_KEY] for the panel to show, and nothing is written.
    """
    try:
        with _ui.session(ctx.engine) as s:
            if kind == "skip":
                skip_item(s, study_id=ctx.study_id, response_id=response_id, annotator_id=ctx.annotator_id)
            else:
                save_annotation(
                    s, study_id=ctx.study_id, response_id=response_id, annotator_id=ctx.annotator_id, **annotation()
                )
                if then is not None:
                    then(s)
            after = next_response_id(s, ctx.study_id, ctx.annotator_id, after=response_id)
    except DxTraceError as exc:
        st.session_state[ERROR_KEY] = exc
        return False, None
    except (IntegrityError, OperationalError):  # the same item saved from another tab at this moment
        st.session_state[ERROR_KEY] = DxTraceError(SAVE_CLASH)
        return False, None
    st.session_state.pop(ERROR_KEY, None)
    return True, after
