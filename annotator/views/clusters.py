"""The lead's map of the traces: clusters, keywords, typical traces, and queue order by cluster.

A thin view over pipeline.cluster (the same functions as `python -m pipeline embed` / `cluster`).
"""

from __future__ import annotations

from urllib.parse import urlparse

import pandas as pd
import streamlit as st

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from db.models import Response, Study
from pipeline.errors import DxTraceError

COLOUR_KEY = "clusters_colour_by"
PICK_KEY = "clusters_pick"
CLUSTER_KEY = "clusters_cluster"


def clustering_label(c) -> str:
    when = c.created_at.strftime("%Y-%m-%d %H:%M") if c.created_at else ""
    return f"#{c.id} · {c.method} · {c.n_clusters} clusters · {c.field} · {when}"


def cluster_table(overview) -> pd.DataFrame:
    """One row per cluster for the lead's table (largest first, noise last)."""
    rows = []
    for info in sorted(overview.clusters, key=lambda i: (i.cluster == -1, -i.size)):
        top_label = next(iter(info.labels), None)
        rows.append(
            {
                "cluster": "noise" if info.cluster == -1 else str(info.cluster),
                "traces": info.size,
                "correct": None if info.correct_rate is None else round(100 * info.correct_rate),
                "most common label": top_label or "",
                "keywords": ", ".join(info.keywords[:8]),
            }
        )
    return pd.DataFrame(rows, columns=["cluster", "traces", "correct", "most common label", "keywords"])


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.0f}%" if pct else f"{value:.2f}"


def _where_embedded(ctx: ViewContext) -> str:
    """Where the study's texts are embedded: this machine, or the server its settings name."""
    from pipeline.cluster import study_embedding

    with _ui.session(ctx.engine) as s:
        config = study_embedding(s, ctx.study_id)
    if config.base_url:
        host = urlparse(config.base_url).netloc or config.base_url
        return (f"Embedding runs on the study's server {_ui.md_line(host)} (model {_ui.md_line(config.model or '?')}); "
                "the command line is `python -m pipeline embed`.")  # fmt: skip
    return (
        "Embedding runs on this machine (about a second per trace on two cores); the command line is "
        "`python -m pipeline embed`."
    )


def _embed_now(ctx: ViewContext) -> None:
    from pipeline.cluster import embed_responses

    try:
        with st.spinner("Embedding traces…"), _ui.session(ctx.engine) as s:
            summary = embed_responses(s, ctx.study_id, progress=False)
    except DxTraceError as exc:  # a server that is down or replies badly: what was done so far is kept
        _ui.show_error(exc)
        return
    st.success(summary.summary())
    st.rerun()


def _make_clustering(ctx: ViewContext, embedded: int, total: int) -> None:
    from pipeline.cluster import METHODS, cluster_study

    with st.expander("Embed and cluster", expanded=embedded == 0):
        st.caption(f"{embedded} of {total} traces are embedded. {_where_embedded(ctx)}")
        if embedded < total and st.button("Embed new and changed traces", key="clusters_embed"):
            _embed_now(ctx)
        with st.form("clusters_form"):
            cols = st.columns(3)
            method = cols[0].selectbox("Method", METHODS, key="clusters_method")
            k = cols[1].number_input(
                "Clusters (0: choose by silhouette)", min_value=0, max_value=100, value=0, key="clusters_k"
            )
            mcs = cols[2].number_input("HDBSCAN min. cluster size (0: automatic)", 0, 1000, 0, key="clusters_mcs")
            go = st.form_submit_button("Cluster the traces", type="primary", disabled=embedded < 3)
        if go:
            try:
                with st.spinner("Clustering…"), _ui.session(ctx.engine) as s:
                    made = cluster_study(
                        s, ctx.study_id, method=method, n_clusters=int(k) or None, min_cluster_size=int(mcs) or None
                    )
                    made_id = made.id
            except DxTraceError as exc:
                _ui.show_error(exc)
                return
            st.session_state[PICK_KEY] = made_id
            st.rerun()


def _trace_text(ctx: ViewContext, response_id: int, field: str) -> str | None:
    with _ui.session(ctx.engine) as s:
        r = s.get(Response, response_id)
        return None if r is None else (r.trace if field == "trace" else r.answer)


def _cluster_page(ctx: ViewContext, overview, field: str) -> None:
    infos = {i.cluster: i for i in overview.clusters}
    if not infos:
        return
    order = sorted(infos, key=lambda c: (c == -1, -infos[c].size))
    chosen = st.selectbox(
        "Cluster",
        order,
        format_func=lambda c: f"{'noise' if c == -1 else f'cluster {c}'} · {infos[c].size} traces",
        key=CLUSTER_KEY,
    )
    info = infos[chosen]
    cols = st.columns(3)
    cols[0].metric("Traces", info.size)
    cols[1].metric("Correct", _fmt(info.correct_rate, pct=True))
    cols[2].metric("Labelled", sum(info.labels.values()))
    if info.keywords:
        st.markdown("**Keywords:** " + ", ".join(_ui.md_line(k) for k in info.keywords))
    elif chosen == -1:
        st.caption("Traces HDBSCAN did not place in any dense group.")
    if info.labels:
        st.caption("Human labels: " + _ui.md_line("; ".join(f"{k} ({v})" for k, v in info.labels.items())))
    pts = overview.points.set_index("response_id")
    st.subheader("Most typical traces")
    typical = info.typical or pts[pts["cluster"] == chosen].sort_values("distance").index[:5].tolist()
    for rid in typical:
        row = pts.loc[rid]
        title = f"Response {rid} · case {row['case_key']} · {row['model']} · {row['correctness']}"
        with st.expander(_ui.md_line(title)):
            _ui.show_text(_trace_text(ctx, int(rid), field))
    members = pts[pts["cluster"] == chosen].reset_index()
    dups = members[members["near_duplicate_of"].notna()]
    if len(dups):
        st.caption(
            "Near duplicates: "
            + ", ".join(f"{int(r.response_id)} ≈ {int(r.near_duplicate_of)}" for r in dups.itertuples())
        )
    st.dataframe(
        members[["response_id", "case_key", "model", "correctness", "human_label", "distance", "snippet"]],
        hide_index=True,
        width="stretch",
    )


@view("Trace clusters", slug="clusters", roles=ROLES_LEAD, order=64, icon=":material/scatter_plot:")
def render(ctx: ViewContext) -> None:
    from pipeline.cluster import (
        COLOUR_BY,
        cluster_map_figure,
        cluster_overview,
        embedding_status,
        list_clusterings,
        order_queues_by_cluster,
    )

    st.title("Trace clusters")
    if ctx.study_id is None:
        st.info("There is no study yet. Create one with: python -m pipeline study")
        return
    with _ui.session(ctx.engine) as s:
        study = s.get(Study, ctx.study_id)
        embedded, total = embedding_status(s, ctx.study_id)
        clusterings = list_clusterings(s, ctx.study_id)
    st.caption(
        "Similar traces grouped from their embeddings, before anyone labels them: where the failures concentrate, "
        "and an order of work that keeps similar traces together."
    )
    if total == 0:
        st.info("This study has no traces yet.")
        return
    _make_clustering(ctx, embedded, total)
    if not clusterings:
        st.info("No clustering yet: embed the traces, then cluster them (above, or `python -m pipeline cluster`).")
        return

    by_id = {c.id: c for c in clusterings}
    if st.session_state.get(PICK_KEY) not in by_id:
        st.session_state[PICK_KEY] = clusterings[0].id
    pick = st.selectbox("Clustering", list(by_id), format_func=lambda i: clustering_label(by_id[i]), key=PICK_KEY)
    try:
        with _ui.session(ctx.engine) as s:
            overview = cluster_overview(s, pick)
    except DxTraceError as exc:
        _ui.show_error(exc)
        return
    c = overview.clustering
    summary = c.summary or {}
    cols = st.columns(4)
    cols[0].metric("Clusters", c.n_clusters)
    cols[1].metric("Silhouette", _fmt(c.silhouette))
    cols[2].metric("Noise", summary.get("n_noise", 0))
    cols[3].metric("Near duplicates", summary.get("n_near_duplicates", 0))
    if summary.get("n_missing"):
        st.warning(f"{summary['n_missing']} trace(s) changed or were not embedded when this clustering was made.")
    ev = overview.evaluation
    if ev is not None:
        st.caption(
            f"Against {ev.n_labeled} human labels: adjusted Rand {_fmt(ev.adjusted_rand)}, "
            f"NMI {_fmt(ev.nmi)}, purity {_fmt(ev.purity)}. Neighbour suggestion (k={ev.k}): top mode right "
            f"{_fmt(ev.suggestion_hit_rate, pct=True)}, whole label right {_fmt(ev.suggestion_exact_rate, pct=True)} "
            f"of {ev.suggestion_n}."
        )

    colour = st.radio("Colour by", list(COLOUR_BY), horizontal=True, key=COLOUR_KEY)
    fig = cluster_map_figure(overview.points, colour)
    st.plotly_chart(fig, width="stretch", key="clusters_map")

    st.subheader("Clusters")
    st.dataframe(cluster_table(overview), hide_index=True, width="stretch")
    _cluster_page(ctx, overview, c.field)

    st.subheader("Order of work")
    st.caption(
        "Put each annotator's pending traces cluster by cluster (largest first, most typical first), "
        "so similar traces are labelled together. Finished items keep their place."
    )
    if st.button("Order every annotator's queue by this clustering", key="clusters_order"):
        try:
            with _ui.session(ctx.engine) as s:
                done = order_queues_by_cluster(s, ctx.study_id, clustering_id=c.id)
        except DxTraceError as exc:
            _ui.show_error(exc)
        else:
            if done:
                st.success(f"Ordered the queues of {len(done)} annotator(s): {sum(done.values())} pending traces.")
            else:
                st.info("No annotator has traces assigned in this study yet.")
    if study is not None and not study.show_suggestions:
        st.caption("Label suggestions from neighbours are off for this study (Study settings).")
