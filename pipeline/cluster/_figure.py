"""The interactive 2-D map of a clustering (plotly), for the app and the report."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

# What a lead can colour the map by: label shown -> column of ClusterOverview.points.
COLOUR_BY = {"cluster": "cluster_name", "model": "model", "correctness": "correctness", "human label": "human_label"}
_CORRECTNESS_COLOURS = {"correct": "#1b9e77", "incorrect": "#d95f02", "ungraded": "#9e9e9e"}


def cluster_map_figure(points: pd.DataFrame, colour_by: str = "cluster", *, hide_models: bool = False) -> go.Figure:
    """Scatter of the traces on the map; hover shows case, cluster, grade, label and the start of the trace.

    Trace text is model output: it is HTML-escaped before it reaches the hover box.
    """
    import plotly.express as px

    if colour_by not in COLOUR_BY:
        raise ValueError(f"colour_by must be one of {', '.join(COLOUR_BY)}, got {colour_by!r}")
    if hide_models and colour_by == "model":
        raise ValueError("the model names are hidden in this study")
    df = points.copy()
    df["cluster_name"] = ["noise" if c == -1 else f"cluster {c}" for c in df["cluster"]]
    df["hover"] = [html.escape(s or "")[:200] for s in df["snippet"]]
    df["duplicate"] = ["" if d is None or d != d else f"near duplicate of {int(d)}" for d in df["near_duplicate_of"]]
    column = COLOUR_BY[colour_by]
    order = sorted(df[column].astype(str).unique(), key=_natural)
    hover = {"response_id": True, "case_key": True, "cluster_name": True, "correctness": True, "human_label": True,
             "duplicate": True, "hover": True, "x": False, "y": False}  # fmt: skip
    if not hide_models:
        hover["model"] = True
    fig = px.scatter(
        df.assign(**{column: df[column].astype(str)}),
        x="x",
        y="y",
        color=column,
        category_orders={column: order},
        color_discrete_map=_CORRECTNESS_COLOURS if colour_by == "correctness" else None,
        hover_data=hover,
        custom_data=["response_id"],
        labels={"cluster_name": "cluster", "human_label": "human label", "hover": "trace", "case_key": "case"},
    )
    fig.update_traces(marker={"size": 8, "opacity": 0.8, "line": {"width": 0.5, "color": "white"}})
    fig.update_layout(
        xaxis={"visible": False},
        yaxis={"visible": False},
        legend_title_text=colour_by,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=560,
    )
    return fig


def _natural(s: str) -> tuple:
    head, _, tail = s.rpartition(" ")
    return (head, int(tail)) if tail.isdigit() else (s, -1)
