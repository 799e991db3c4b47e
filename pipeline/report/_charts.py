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
        **_LAYOUT,
        barmode="group",
        yaxis_title="% of settled incorrect responses (95% Wilson CI)",
        legend_title=group.capitalize(),
        showlegend=True,
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
            colorbar=dict(title="Responses"),
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
            name=f"{statistic} (bootstrap CI)",
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
    fig.update_layout(**_LAYOUT, xaxis_title=statistic, showlegend=True, legend=dict(orientation="h", y=-0.2))
    fig.update_xaxes(range=[min(-0.2, *[r[2] or 0 for r in shown]) if shown else -0.2, 1.05])
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
    fig.update_layout(**_LAYOUT, xaxis_title="map x", yaxis_title="map y", legend_title="Cluster", showlegend=True)
    return fig


def cluster_modes(frame: pd.DataFrame, names: dict[str, str]):
    """Stacked bars: final error modes within each cluster."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for code, rows in frame.groupby("error_mode", sort=False):
        fig.add_trace(go.Bar(name=names.get(code, code), x=[f"cluster {c}" for c in rows["cluster"]], y=rows["count"]))
    fig.update_layout(
        **_LAYOUT, barmode="stack", yaxis_title="settled responses", legend_title="Error mode", showlegend=True
    )
    return fig


def _palette(n: int) -> list[str]:
    import plotly.express as px

    # Ten distinct colours (D3) up to ten models, then 24; symbols vary too, so print in grey stays readable.
    return px.colors.qualitative.D3 if n <= 10 else px.colors.qualitative.Dark24


_CI_NAMES = {"wilson": "Wilson", "clopper-pearson": "Clopper-Pearson"}
_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "triangle-down", "pentagon", "star", "hexagon")


def forest_grouped(report) -> object:
    """Accuracy with intervals: one block per subgroup (overall first), one row per level, one marker per model.

    Models sit side by side within a row (dodged), each with its own colour and symbol and a legend entry,
    so ten models stay apart; the figure grows with the number of rows and models.
    """
    import plotly.graph_objects as go

    models = list(dict.fromkeys(r.model for r in report.models))
    m = len(models)
    rows: list[tuple[str, str]] = []  # (subgroup, level); a level "" is the subgroup's header row
    for subgroup in ("overall", *report.subgroups):
        levels = list(dict.fromkeys(r.level for r in report.models if r.subgroup == subgroup and r.accuracy.n))
        if not levels:
            continue
        if subgroup != "overall":
            rows.append((subgroup, ""))
        rows += [(subgroup, lv) for lv in levels]
    position = {row: i for i, row in enumerate(rows)}
    width = 0.8 / max(m, 1)
    colours = _palette(m)
    fig = go.Figure()
    for i, model in enumerate(models):
        mine = [r for r in report.models if r.model == model and r.accuracy.n and (r.subgroup, r.level) in position]
        offset = (i - (m - 1) / 2) * width
        fig.add_trace(
            go.Scatter(
                x=[100 * r.accuracy.estimate for r in mine],
                y=[position[(r.subgroup, r.level)] + offset for r in mine],
                mode="markers",
                name=model,
                marker=dict(size=8, color=colours[i % len(colours)], symbol=_SYMBOLS[i % len(_SYMBOLS)]),
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=[100 * (r.accuracy.upper - r.accuracy.estimate) for r in mine],
                    arrayminus=[100 * (r.accuracy.estimate - r.accuracy.lower) for r in mine],
                    thickness=1.5,
                    width=0,
                ),
                customdata=[[r.subgroup, r.level, r.accuracy.successes, r.accuracy.n] for r in mine],
                hovertemplate="%{customdata[1]}: %{x:.1f}% (%{customdata[2]}/%{customdata[3]})<extra>"
                + model
                + "</extra>",
            )
        )
    labels = [
        "Overall" if s == "overall" else (f"<b>{s.capitalize()}</b>" if lv == "" else f"  {lv}") for s, lv in rows
    ]
    level = f"{round(100 * report.conf_level):g}%"
    fig.update_layout(
        **{**_LAYOUT, "height": int(140 + len(rows) * max(26, 9 * m))},
        xaxis_title=f"accuracy (%), {level} {_CI_NAMES.get(report.ci_method, report.ci_method)} interval",
        legend=dict(title="Model", traceorder="normal"),
        showlegend=True,
    )
    fig.update_xaxes(range=[0, 102])
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(range(len(rows))),
        ticktext=labels,
        autorange="reversed",
        showgrid=False,
        zeroline=False,
    )
    for i, (_, lv) in enumerate(rows):
        if lv == "" or i == 0:
            continue
        fig.add_hline(y=i - 0.5, line_width=0.5, line_color="#dddddd")
    return fig


def flow_bars(flow) -> object:
    """The flow of responses per model (CONSORT-style): one bar per model at each stage, its count written on it."""
    import plotly.graph_objects as go

    stages = [("responses", "Responses"), ("graded", "Graded (not pending)"), ("incorrect", "Incorrect"),
              ("with_trace", "Incorrect, with a trace"), ("labelled", "Incorrect, labelled"),
              ("settled", "Incorrect, settled")]  # fmt: skip
    per_model = flow[flow["model"] != "All models"]
    colours = _palette(len(per_model))
    fig = go.Figure()
    for i, row in enumerate(per_model.itertuples()):
        values = [row.responses, row.auto + row.clinician, row.incorrect, row.with_trace, row.labelled, row.settled]
        fig.add_trace(
            go.Bar(
                name=row.model,
                y=[s for _, s in stages],
                x=values,
                orientation="h",
                text=values,
                textposition="outside",
                marker=dict(color=colours[i % len(colours)]),
                hovertemplate="%{y}: %{x}<extra>" + row.model + "</extra>",
            )
        )
    fig.update_layout(
        **{**_LAYOUT, "height": int(140 + len(stages) * max(40, 14 * len(per_model)))},
        barmode="group",
        xaxis_title="responses",
        legend=dict(title="Model"),
        showlegend=True,
    )
    fig.update_yaxes(autorange="reversed")
    return fig
