"""The report's charts: a legend on every one, and a forest plot that stays readable with ten models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.accuracy import accuracy_report
from pipeline.report import _charts, flow_counts


def _ten_models() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for m in range(10):
        for case in range(60):
            rows.append(
                {
                    "case": f"c{case}",
                    "model": f"model-{m}",
                    "correct": bool(rng.random() < 0.4 + 0.05 * m),
                    "incidence": ("Frequent", "Less Frequent", "Rare")[case % 3],
                    "specialty": ("Neurology", "Surgery", "Pediatrics", "Gynecology")[case % 4],
                }
            )
    return pd.DataFrame(rows)


def test_forest_plot_with_ten_models_is_grouped_and_readable():
    report = accuracy_report(_ten_models(), alpha=0.01)
    fig = _charts.forest_grouped(report)
    assert len(fig.data) == 10 and fig.layout.showlegend and fig.layout.legend.title.text == "Model"
    assert len({t.marker.color for t in fig.data}) == 10  # ten distinct colours
    labels = list(fig.layout.yaxis.ticktext)
    # Overall first, then one block per subgroup with its header and its levels.
    assert labels[0] == "Overall" and "<b>Incidence</b>" in labels and "<b>Specialty</b>" in labels
    assert labels.index("<b>Incidence</b>") < labels.index("  Rare") < labels.index("<b>Specialty</b>")
    # The ten models of one row sit apart, each inside its own row's band.
    rows = sorted({round(y) for t in fig.data for y in t.y})
    for row in rows:
        ys = sorted(y for t in fig.data for y in t.y if round(y) == row)
        assert len(ys) == 10 and min(np.diff(ys)) > 0.05 and ys[-1] - ys[0] < 1
    assert fig.layout.height >= 90 * len(labels)  # grows with rows x models


def test_every_chart_has_a_legend():
    report = accuracy_report(_ten_models().query("model in ['model-0']"), alpha=0.05)
    single = _charts.forest_grouped(report)
    assert single.layout.showlegend  # even for one model
    grades = pd.DataFrame(
        {
            "response_id": [1, 2],
            "model": ["A", "B"],
            "status": ["auto", "auto"],
            "correct": pd.array([False, True], dtype="boolean"),
        }  # fmt: skip
    )
    flow = _charts.flow_bars(flow_counts(grades, with_trace={1}, labelled={1}, settled={1}))
    assert flow.layout.showlegend and flow.layout.legend.title.text == "Model"
    points = _charts.agreement_points([("Drift", 0.5, 0.3, 0.7)], "Krippendorff's α")
    assert points.layout.showlegend and points.data[0].name
    frame = pd.DataFrame({"model": ["A"], "error_mode": ["x"], "k": [1], "n": [2], "estimate": [0.5],
                          "lower": [0.1], "upper": [0.9]})  # fmt: skip
    assert _charts.prevalence_bars(frame, {"x": "X"}).layout.showlegend
    heat = _charts.co_occurrence_heatmap(pd.DataFrame([[1]], index=["x"], columns=["x"]), {"x": "X"})
    assert heat.data[0].colorbar.title.text == "Responses"
