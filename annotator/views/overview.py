"""The lead's study overview: progress per annotator, and incorrect responses per model."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from db.models import Study
from pipeline.annotation import (
    annotated_items,
    assigned_response_ids,
    count_responses,
    responses_by_model,
    study_progress,
    time_per_annotator,
)


def grades_by_model(session, study_id: int) -> pd.DataFrame | None:
    """Responses, correct, incorrect and uncertain per model (None before the study is graded)."""
    try:
        from pipeline.accuracy import effective_grades
    except ImportError:
        return None
    grades = effective_grades(session, study_id)
    if grades is None or len(grades) == 0:
        return None
    table = grades.groupby("model").agg(
        responses=("response_id", "count"),
        correct=("correct", lambda c: int((c == True).sum())),  # noqa: E712 (pandas, may hold None)
        incorrect=("correct", lambda c: int((c == False).sum())),  # noqa: E712
        uncertain=("correct", lambda c: int(c.isna().sum())),
    )
    return table.reset_index()


@view("Study overview", slug="overview", roles=ROLES_LEAD, order=60, icon=":material/monitoring:")
def render(ctx: ViewContext) -> None:
    if ctx.study_id is None:
        st.info("There is no study yet. Create one with: python -m pipeline study")
        return
    with _ui.session(ctx.engine) as s:
        study = s.get(Study, ctx.study_id)
        n_responses = count_responses(s, study.id)
        assigned = assigned_response_ids(s, study.id)
        n_annotated = annotated_items(s, study.id)
        people = study_progress(s, study.id)
        timing = time_per_annotator(s, study.id)
        by_model_assigned = responses_by_model(s, study.id, assigned)
        by_model = grades_by_model(s, study.id)
    st.title(f"Study overview · {_ui.md_line(study.name)}")
    if study.description:
        st.caption(_ui.md(study.description))
    cols = st.columns(4)
    cols[0].metric("Responses", n_responses)
    cols[1].metric("Items assigned", len(assigned))
    cols[2].metric("Items with a label", n_annotated)
    done = int(people["done"].sum()) if len(people) else 0
    total = int(people["assigned"].sum()) if len(people) else 0
    cols[3].metric("Labels done", f"{done} of {total}")

    st.subheader("Progress per annotator")
    if len(people):
        st.dataframe(
            people,
            hide_index=True,
            width="stretch",
            column_config={
                "percent_done": st.column_config.ProgressColumn("done %", min_value=0, max_value=100, format="%.0f%%"),
                "last_activity": st.column_config.DatetimeColumn("last activity", format="YYYY-MM-DD HH:mm"),
            },
        )
    else:
        st.info("Nothing is assigned yet: see Assignment.")
    if len(timing):
        st.caption("Active time per item (gaps between actions, each capped at 2 minutes)")
        st.dataframe(timing, hide_index=True, width="stretch", key="overview_timing")

    st.subheader("Responses per model")
    if by_model is not None:
        st.dataframe(by_model, hide_index=True, width="stretch")
    else:
        st.caption("Not graded yet: run python -m pipeline grade.")
    if len(by_model_assigned):
        st.caption("Items assigned for labelling, per model")
        st.dataframe(by_model_assigned, hide_index=True, width="stretch")
    blind = []
    if study.blind_models:
        blind.append("model names")
    if study.blind_annotators:
        blind.append("other annotators' labels")
    st.caption("Hidden from annotators: " + (", ".join(blind) if blind else "nothing") + " (see Study settings).")
