"""The lead's page for what leaves the tool: the qualitative error report and the labelled-data exports."""

from __future__ import annotations

import re

import streamlit as st

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from pipeline.errors import DxTraceError
from pipeline.export import ADJUDICATION, CORRECTNESS, FORMATS, export_archive, export_choices
from pipeline.report import HTML_NAME, MD_NAME, build_report, render_html, render_markdown


def file_stem(study_name: str) -> str:
    """A study name made safe for a downloaded file's name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", study_name).strip("_") or "study"


def build_report_files(engine, study_id: int, *, n_boot: int = 2000) -> dict:
    """The report's files and which sections are not available yet, for the page (a plain function tests call)."""
    with _ui.session(engine) as s:
        report = build_report(s, study_id, n_boot=n_boot)
    return {
        "study": report.study,
        HTML_NAME: render_html(report).encode("utf-8"),
        MD_NAME: render_markdown(report).encode("utf-8"),
        "missing": [(sec.title, sec.reason) for sec in report.sections if not sec.available],
    }


def build_export_zip(engine, study_id: int, **options) -> tuple[bytes, str]:
    with _ui.session(engine) as s:
        data, summary = export_archive(s, study_id, **options)
    return data, summary.summary().split(" -> ")[0]


@view("Reports and exports", slug="reports", roles=ROLES_LEAD, order=90, icon=":material/description:")
def render(ctx: ViewContext) -> None:
    st.title("Reports and exports")
    if ctx.study_id is None:
        st.info("There is no study yet. Create one with: python -m pipeline study")
        return

    st.subheader("Qualitative error report")
    st.caption(
        "One HTML file that opens offline (charts included) and a Markdown version: study design, accuracy with "
        "McNemar tests, error-mode prevalence, agreement, clusters and exemplar excerpts with the evidence steps marked. "
        "The same as `python -m pipeline report`."
    )
    if st.button("Build the report", key="reports_build", type="primary"):
        try:
            with st.spinner("Building the report (bootstrap intervals take a moment)…"):
                st.session_state["reports_files"] = build_report_files(ctx.engine, ctx.study_id)
        except DxTraceError as exc:
            _ui.show_error(exc)
    files = st.session_state.get("reports_files")
    if files:
        stem = file_stem(files["study"])
        c = st.columns(2)
        c[0].download_button("Report (HTML)", files[HTML_NAME], f"{stem}-report.html", "text/html", key="reports_html")
        c[1].download_button(
            "Report (Markdown)", files[MD_NAME], f"{stem}-report.md", "text/markdown", key="reports_md"
        )
        if files["missing"]:
            st.warning(
                "Sections not available yet:\n\n"
                + "\n".join(f"- {title}: {_ui.md_line(reason)}" for title, reason in files["missing"])
            )
        else:
            st.success("Every section of the report is filled.")

    st.subheader("Export the labelled responses")
    st.caption(
        "A zip with responses.jsonl (one record per response: case, model, prompt, trace, answer, grades, "
        "annotations with evidence steps, final labels), flat CSV and Parquet tables, and study.json. "
        "See docs/export-format.md. It can be imported again with `python -m pipeline import-export`."
    )
    with _ui.session(ctx.engine) as s:
        models, case_sets = export_choices(s, ctx.study_id)
    with st.form("reports_export"):
        c = st.columns(2)
        chosen_models = c[0].multiselect("Models (none = all)", models, key="reports_models")
        chosen_sets = c[1].multiselect("Case sets (none = all)", case_sets, key="reports_sets")
        c = st.columns(2)
        correctness = c[0].multiselect("Graded (none = all)", CORRECTNESS, key="reports_correctness")
        adjudication = c[1].multiselect("Final label (none = all)", ADJUDICATION, key="reports_adjudication")
        c = st.columns(2)
        formats = c[0].multiselect("Files", FORMATS, default=list(FORMATS), key="reports_formats")
        annotated = c[1].checkbox("Only annotated responses", key="reports_annotated")
        real_names = c[1].checkbox(
            "Real annotator names (internal backups only)",
            key="reports_real_names",
            help="By default annotators appear as pseudonyms A1, A2, …",
        )
        submitted = st.form_submit_button("Build the export")
    if submitted:
        try:
            with st.spinner("Writing the export…"):
                data, summary = build_export_zip(
                    ctx.engine,
                    ctx.study_id,
                    formats=formats or ["jsonl"],
                    models=chosen_models,
                    case_sets=chosen_sets,
                    correctness=correctness,
                    adjudication=adjudication,
                    annotated_only=annotated,
                    pseudonymise=not real_names,
                )
            st.session_state["reports_export_zip"] = (data, summary)
        except DxTraceError as exc:
            _ui.show_error(exc)
    export = st.session_state.get("reports_export_zip")
    if export:
        data, summary = export
        st.caption(_ui.md(summary))
        with _ui.session(ctx.engine) as s:
            name = file_stem(export_study_name(s, ctx.study_id))
        st.download_button("Export (zip)", data, f"{name}-export.zip", "application/zip", key="reports_zip")


def export_study_name(session, study_id: int) -> str:
    from pipeline.studies import get_study

    return get_study(session, study_id).name


__all__ = ["build_export_zip", "build_report_files", "file_stem", "render"]
