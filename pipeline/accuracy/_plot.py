"""Forest plot of accuracies with their confidence intervals (plotly)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.accuracy._report import AccuracyReport


def forest_plot(report: AccuracyReport, *, subgroup: str | None = None):
    """One row per (subgroup level, model): the accuracy and its interval; overall first.

    subgroup: only the overall rows and this subgroup's levels (default: all of the report's).
    """
    import plotly.graph_objects as go

    rows = [r for r in report.models if r.accuracy.n > 0 and (subgroup is None or r.subgroup in ("overall", subgroup))]
    models = list(dict.fromkeys(r.model for r in rows))
    fig = go.Figure()
    labels = [("Overall" if r.subgroup == "overall" else f"{r.subgroup}: {r.level}") for r in rows]
    order = list(dict.fromkeys(labels))
    for m in models:
        mine = [(lab, r) for lab, r in zip(labels, rows, strict=True) if r.model == m]
        fig.add_trace(
            go.Scatter(
                x=[100 * (r.accuracy.estimate or 0) for _, r in mine],
                y=[[lab for lab, _ in mine], [m for _ in mine]],
                mode="markers",
                name=m,
                marker={"size": 9},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [100 * ((r.accuracy.upper or 0) - (r.accuracy.estimate or 0)) for _, r in mine],
                    "arrayminus": [100 * ((r.accuracy.estimate or 0) - (r.accuracy.lower or 0)) for _, r in mine],
                },
                customdata=[[r.accuracy.successes, r.accuracy.n, r.pending] for _, r in mine],
                hovertemplate="%{y}<br>%{x:.1f}% (%{customdata[0]}/%{customdata[1]}), pending %{customdata[2]}"
                "<extra>" + m + "</extra>",
            )
        )
    level = f"{round(100 * report.conf_level):g}%"
    fig.update_layout(
        title=f"Diagnostic accuracy with {level} {report.ci_method} intervals",
        xaxis={"title": "accuracy (%)", "range": [0, 100]},
        yaxis={"autorange": "reversed", "categoryorder": "array", "categoryarray": order},
        height=max(400, 22 * len(rows) + 150),
        legend={"title": "model"},
        template="plotly_white",
    )
    return fig
