"""The lead's study settings: blinding, label suggestions, codebook version."""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from db.models import CodebookVersion, Study
from pipeline.annotation import DEFAULT_VERSION, codebook_versions, update_study_settings
from pipeline.errors import DxTraceError


@view("Study settings", slug="settings", roles=ROLES_LEAD, order=62, icon=":material/tune:")
def render(ctx: ViewContext) -> None:
    st.title("Study settings")
    if ctx.study_id is None:
        st.info("There is no study yet. Create one with: python -m pipeline study")
        return
    with _ui.session(ctx.engine) as s:
        study = s.get(Study, ctx.study_id)
        current = s.get(CodebookVersion, study.codebook_version_id) if study.codebook_version_id else None
        versions = codebook_versions(s)  # shipped and made in the app (Codebook page)
    with st.form("settings_form"):
        blind_models = st.toggle("Hide model names from annotators", value=study.blind_models, key="set_blind_models")
        blind_annotators = st.toggle(
            "Hide other annotators' labels", value=study.blind_annotators, key="set_blind_annotators"
        )
        show_suggestions = st.toggle(
            "Show similar traces and suggested labels while labelling",
            value=study.show_suggestions,
            key="set_suggestions",
            help="Needs embeddings (python -m pipeline embed). Each annotation records whether a suggestion was shown.",
        )
        version = st.selectbox(
            "Codebook version",
            options=versions,
            index=versions.index(current.version if current else DEFAULT_VERSION),
            key="set_codebook",
            help="Each annotation records the version it was made under. The Codebook page previews a switch.",
        )
        submitted = st.form_submit_button("Save settings", type="primary")
    if submitted:
        try:
            with _ui.session(ctx.engine) as s:
                update_study_settings(
                    s,
                    ctx.study_id,
                    blind_models=blind_models,
                    blind_annotators=blind_annotators,
                    show_suggestions=show_suggestions,
                    codebook_version=version,
                )
        except DxTraceError as exc:
            _ui.show_error(exc)
            return
        st.success("Settings saved.")
