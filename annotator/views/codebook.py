"""The codebook of the current study: every error mode with its definition and an example."""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from annotator.registry import ViewContext, view
from db.models import Study
from pipeline.annotation import load_codebook, study_codebook


@view("Codebook", slug="codebook", order=40, icon=":material/menu_book:")
def render(ctx: ViewContext) -> None:
    if ctx.study_id is not None:
        with _ui.session(ctx.engine) as s:
            _, book = study_codebook(s, s.get(Study, ctx.study_id))
    else:
        book = load_codebook()
    st.title(f"Codebook · version {_ui.md_line(book.version)}")
    if book.description:
        _ui.show_markdown(book.description)
    for i, mode in enumerate(book.error_modes, 1):
        with st.container(border=True):
            st.markdown(f"### {i} · {_ui.md_line(mode.name)}")
            st.caption(f"code: {_ui.md_line(mode.code)}")
            _ui.show_markdown(mode.definition)
            st.markdown(f"*Example.* {_ui.md(mode.example)}")
