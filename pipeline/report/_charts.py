"""Plotly figures of the report; each is built from a tidy frame, and the HTML embeds it offline."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=60), font=dict(size=12), height=420)


def prevalence_bars(frame: pd.DataFrame, names: dict[str, str], group: str = "model"):
    """Grouped bars: prevalence of each error mode per group, with Wilson interval whiskers."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for level, rows in frame.groupby(group, sort=False):
        rows = rows[rows["n"] > 0]
        fig.add_trace(
            go.Bar(
                name=str(level),
                x=[names.get(c, c) for c in rows["error_mode"]],
                y=100 * rows["estimate"],
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=100 * (rows["upper"] - rows["estimate"]),
                    arrayminus=100 * (rows["estimate"] - rows["lower"]),
                ),
                customdata=rows[["k", "n"]].to_numpy(),
                hovertemplate="%{x}: %{y:.0f}% (%{customdata[0]} of %{customdata[1]})<extra>" + str(level) + "</extra>",
            )
        )
    fig.update_layout(
        **_LAYOUT, barmode="group", yaxis_title="% of labelled responses (95% Wilson CI)", legend_title=group
    )
    fig.update_yaxes(range=[0, 100])
    return fig


def co_occurrence_heatmap(matrix: pd.DataFrame, names: dict[str, str]):
    import plotly.graph_objects as go

    labels = [names.get(c, c) for c in matrix.index]
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=labels,
            y=labels,
            colorscale="Blues",
            text=matrix.to_numpy(),
            texttemplate="%{text}",
            hovertemplate="%{y} and %{x}: %{z} responses<extra></extra>",
        )
    )
    fig.update_layout(**_LAYOUT)
    fig.update_yaxes(autorange="reversed")
    return fig


def agreement_points(rows: Sequence[tuple[str, float | None, float | None, float | None]], statistic: str):
    """One point per error mode with its bootstrap interval."""
    import plotly.graph_objects as go

    shown = [r for r in rows if r[1] is not None]
    fig = go.Figure(
        go.Scatter(
            x=[r[1] for r in shown],
            y=[r[0] for r in shown],
            mode="markers",
            marker=dict(size=11),
            error_x=dict(
                type="data",
                symmetric=False,
                array=[(r[3] - r[1]) if r[3] is not None else 0 for r in shown],
                arrayminus=[(r[1] - r[2]) if r[2] is not None else 0 for r in shown],
            ),
            hovertemplate="%{y}: %{x:.2f}<extra></extra>",
        )
    )
    fig.add_vline(x=0.667, line_dash="dot", line_color="grey", annotation_text="0.667", annotation_position="top")
    fig.add_vline(x=0.8, line_dash="dot", line_color="grey", annotation_text="0.8", annotation_position="top")
    fig.update_layout(**_LAYOUT, xaxis_title=statistic)
    fig.update_xaxes(range=[min(-0.2, *[r[2] or 0 for r in shown]) if shown else -0.2, 1.0])
    fig.update_yaxes(autorange="reversed")
    return fig


def cluster_map(points: pd.DataFrame):
    import plotly.graph_objects as go

    fig = go.Figure()
    for cluster, rows in points.groupby("cluster", sort=True):
        name = "noise" if cluster == -1 else f"cluster {cluster}"
        fig.add_trace(
            go.Scattergl(
                x=rows["x"],
                y=rows["y"],
                mode="markers",
                name=name,
                marker=dict(size=7, opacity=0.8),
                customdata=rows[["model", "case_key", "label"]].fillna("").to_numpy(),
                hovertemplate="%{customdata[0]} · %{customdata[1]}<br>%{customdata[2]}<extra>" + name + "</extra>",
            )
        )
    fig.update_layout(**_LAYOUT, xaxis_title="map x", yaxis_title="map y")
    return fig


def cluster_modes(frame: pd.DataFrame, names: dict[str, str]):
    """Stacked bars: final error modes within each cluster."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for code, rows in frame.groupby("error_mode", sort=False):
        fig.add_trace(go.Bar(name=names.get(code, code), x=[f"cluster {c}" for c in rows["cluster"]], y=rows["count"]))
    fig.update_layout(**_LAYOUT, barmode="stack", yaxis_title="labelled responses")
    return fig
