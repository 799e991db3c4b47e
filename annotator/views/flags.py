"""The lead's list of flagged items: what annotators want discussed, with their notes.

A flagged item is never settled automatically (pipeline.agreement.settle_final_labels);
it waits in Adjudication until a lead decides.
"""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from pipeline.annotation import flagged_items


def flag_rows(items, names: dict[str, str]) -> list[dict]:
    return [
        {
            "response": i.response_id,
            # status and note before the rest: at 1280x720 the grid shows about 800 px of its columns
            "status": "open" if i.open else "adjudicated",
            "case": i.case_key,
            "annotator": i.annotator,
            "note": i.note or "",
            "labels": ", ".join(names.get(c, c) for c in i.error_modes) or "none",
            "flagged at": i.flagged_at,
        }
        for i in items
    ]


@view("Flagged items", slug="flags", roles=ROLES_LEAD, order=62, icon=":material/flag:")
def render(ctx: ViewContext) -> None:
    st.title("Flagged items")
    if ctx.study_id is None:
        st.info("There is no study yet.")
        return
    from db.models import Study
    from pipeline.annotation import study_codebook

    with _ui.session(ctx.engine) as s:
        items = flagged_items(s, ctx.study_id)
        _, codebook = study_codebook(s, s.get(Study, ctx.study_id))
    n_open = sum(i.open for i in items)
    st.caption(
        f"{n_open} open of {len(items)} flagged. Flagged items are never settled automatically: "
        "decide them in Adjudication."
    )
    if not items:
        st.info("No annotator has flagged an item.")
        return
    st.dataframe(
        flag_rows(items, {m.code: m.name for m in codebook.error_modes}),
        hide_index=True,
        width="stretch",
        key="flags_table",
        column_config={"note": st.column_config.TextColumn("note", width="large")},
    )
