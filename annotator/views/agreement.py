"""The lead's agreement page: per error mode with intervals, a pairwise heatmap, confusion between two annotators."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from pipeline.agreement import (
    DEFAULT_MIN_ITEMS,
    DEFAULT_N_BOOT,
    NO_ERROR,
    STATISTIC_TITLES,
    AgreementReport,
    Ratings,
    compute_agreement,
    confusion,
    ratings_from_db,
)
from pipeline.agreement._report import analytic_text

LEVELS = (0.90, 0.95, 0.99)


def pairwise_heatmap(report: AgreementReport, label: str) -> go.Figure:
    """Cohen's kappa of every pair of annotators on one variable; blank where undefined."""
    m = report.pairwise_matrix(label)
    text = [["" if pd.isna(v) else f"{v:.2f}" for v in row] for row in m.values]
    fig = go.Figure(
        go.Heatmap(
            z=m.values,
            x=list(m.columns),
            y=list(m.index),
            text=text,
            texttemplate="%{text}",
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            colorbar={"title": "κ"},
            hovertemplate="%{y} × %{x}: κ = %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Cohen's κ per pair of annotators: {label}",
        yaxis={"autorange": "reversed"},
        height=120 + 60 * len(m),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def analytic_table(report: AgreementReport) -> pd.DataFrame:
    """Every figure with an analytic SE: value, SE, z, p and asymptotic interval, formatted for the page."""
    return analytic_text(report.analytic_frame())


def variable_choices(report: AgreementReport) -> list[str]:
    """Variables that have pairwise figures: the error modes and the label set."""
    return [v.label for v in report.variables if v.pairs]


@st.cache_data(show_spinner="Computing agreement and its bootstrap intervals…", max_entries=16)
def _cached_report(
    _ratings: Ratings, key: tuple, n_boot: int, seed: int, level: float, min_items: int
) -> AgreementReport:
    # `key` fingerprints the annotations (count, last change), so a new label recomputes.
    return compute_agreement(_ratings, n_boot=n_boot, seed=seed, level=level, min_items=min_items)


def _fingerprint(ratings: Ratings) -> tuple:
    return (
        ratings.source,
        ratings.n_ratings,
        hash(tuple(sorted((r.item, r.rater, tuple(sorted(r.labels)), r.first_error_step) for r in ratings.ratings))),
    )


def _signals_validation(ctx: ViewContext, n_boot: int, seed: int) -> None:
    """Each automatic signal against the settled final labels of its error mode."""
    from pipeline.signals import study_validation, validation_rows

    st.subheader("Automatic signals against the final labels")
    with _ui.session(ctx.engine) as s:
        rows = validation_rows(study_validation(s, ctx.study_id, n_boot=n_boot, seed=seed))
    if not rows:
        st.info("No signals computed yet. Compute them with: python -m pipeline signals --study NAME")
        return
    st.caption(
        "Per signal, over responses with a settled final label: sensitivity and positive predictive value for the "
        "signal's error mode, and Cohen's κ, with bootstrap intervals over responses. A signal is evidence for a "
        "clinician, not a label."
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="agr_signals")


@view("Agreement", slug="agreement", roles=ROLES_LEAD, order=62, icon=":material/handshake:")
def render(ctx: ViewContext) -> None:
    st.title("Agreement between annotators")
    if ctx.study_id is None:
        st.info("There is no study yet. Create one with: python -m pipeline study")
        return
    with _ui.session(ctx.engine) as s:
        ratings = ratings_from_db(s, ctx.study_id)
    if ratings.n_ratings == 0:
        st.info("No annotations yet. Agreement appears here once annotators have labelled items.")
        return
    with st.expander("Settings", expanded=False):
        c = st.columns(4)
        n_boot = c[0].number_input(
            "Bootstrap resamples", 0, 20000, DEFAULT_N_BOOT, step=500, key="agr_boot", help="0: no intervals"
        )
        level = c[1].selectbox("Confidence level", LEVELS, index=1, format_func=lambda x: f"{x:.0%}", key="agr_level")
        seed = c[2].number_input("Random seed", 0, 2**31 - 1, 0, key="agr_seed")
        min_items = c[3].number_input("Fewest paired items", 2, 1000, DEFAULT_MIN_ITEMS, key="agr_min")
    report = _cached_report(ratings, _fingerprint(ratings), int(n_boot), int(seed), float(level), int(min_items))

    cols = st.columns(4)
    cols[0].metric("Annotators", len(report.raters))
    cols[1].metric("Items", report.n_items)
    cols[2].metric("Cases", report.n_cases)
    cols[3].metric("Ratings", report.n_ratings)
    st.caption(
        f"Krippendorff's α per error mode (present/absent, missing ratings allowed), MASI α over the label sets, "
        f"interval α on the first erroneous step. {level:.0%} intervals: percentile bootstrap over cases, "
        f"{report.n_boot} resamples. 'no_error' is the empty label set."
    )
    st.dataframe(report.summary_frame(), hide_index=True, width="stretch", key="agr_table")
    undefined = report.undefined()
    if undefined:
        with st.expander(f"Undefined figures ({len(undefined)})"):
            for label, stat, reason in undefined:
                st.markdown(f"- **{_ui.md_line(label)}**, {STATISTIC_TITLES.get(stat, stat)}: {_ui.md_line(reason)}")
    for w in report.warnings:
        st.warning(w)

    choices = variable_choices(report)
    if choices:
        st.subheader("Pairs of annotators")
        label = st.selectbox("Variable", choices, key="agr_heat_label")
        st.plotly_chart(pairwise_heatmap(report, label), key="agr_heatmap")

        st.subheader("Confusion between two annotators")
        raters = list(report.raters)
        c = st.columns(3)
        a = c[0].selectbox("Annotator (rows)", raters, index=0, key="agr_conf_a")
        b = c[1].selectbox("Annotator (columns)", raters, index=min(1, len(raters) - 1), key="agr_conf_b")
        options = [*[v.label for v in report.error_modes], "label set"]
        what = c[2].selectbox("Variable", options, key="agr_conf_label")
        if a == b:
            st.info("Choose two different annotators.")
        else:
            table = confusion(ratings, a, b, None if what == "label set" else what)
            st.caption(f"Items labelled by both: {int(table.values.sum())}")
            st.dataframe(table, key="agr_confusion")
    else:
        st.info("No two annotators have labelled the same item yet.")

    analytic = analytic_table(report)
    if len(analytic):
        with st.expander("Standard errors, z and p (analytic, for checking against irrCAC or SAS)"):
            st.caption(
                "Gwet (2014) / irrCAC linearised SEs with t(n−1) intervals for α, Fleiss', Conger's and "
                "Brennan-Prediger κ and AC1; Cohen's κ per pair as SAS PROC FREQ. Items are treated as "
                "independent here; the bootstrap above resamples whole cases."
            )
            st.dataframe(analytic, hide_index=True, width="stretch", key="agr_analytic")

    _signals_validation(ctx, int(n_boot), int(seed))

    st.subheader("Download")
    c = st.columns(3)
    c[0].download_button("Figures (CSV)", report.to_frame().to_csv(index=False), "agreement.csv", "text/csv")
    c[1].download_button("Figures (JSON)", json.dumps(report.to_dict(), indent=2), "agreement.json", "application/json")
    c[2].download_button("Tables (Markdown)", report.to_markdown(), "agreement.md", "text/markdown")


__all__ = ["NO_ERROR", "analytic_table", "pairwise_heatmap", "render", "variable_choices"]
