"""The flow of responses, CONSORT-style: responses -> graded -> incorrect -> with a trace -> labelled -> settled.

A pure function on the effective grades (one row per response: model, status, correct) and the sets of
response ids that have a trace, an annotation, and a settled final label.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

# (column, heading): the boxes of the flow, in order.
FLOW_STEPS: tuple[tuple[str, str], ...] = (
    ("responses", "Responses"),
    ("auto", "Graded automatically"),
    ("clinician", "Graded by a clinician"),
    ("pending", "Pending (waiting for a clinician)"),
    ("ungraded", "Not graded"),
    ("correct", "Correct"),
    ("incorrect", "Incorrect"),
    ("with_trace", "Incorrect, with a trace"),
    ("labelled", "Incorrect, labelled"),
    ("settled", "Incorrect, settled"),
)


def flow_counts(
    grades: pd.DataFrame,
    *,
    with_trace: Collection[int],
    labelled: Collection[int],
    settled: Collection[int],
) -> pd.DataFrame:
    """One row per model (in order of appearance) and a last row "All models", one column per flow step."""
    rows = []
    for model, g in [*grades.groupby("model", sort=False), ("All models", grades)]:
        incorrect = g[g["correct"].eq(False).fillna(False).astype(bool)]
        ids = set(incorrect["response_id"])
        pending = g["status"] == "pending"
        rows.append(
            {
                "model": str(model),
                "responses": len(g),
                # A clinician's grade wins, so these four add up to the responses.
                "auto": int((g["status"] == "auto").sum()),
                "clinician": int((g["status"] == "clinician").sum()),
                "pending": int(pending.sum()),
                "ungraded": int((g["status"] == "ungraded").sum()),
                "correct": int(g["correct"].eq(True).fillna(False).astype(bool).sum()),
                "incorrect": len(ids),
                "with_trace": len(ids & set(with_trace)),
                "labelled": len(ids & set(labelled)),
                "settled": len(ids & set(settled)),
            }
        )
    return pd.DataFrame(rows, columns=["model", *[c for c, _ in FLOW_STEPS]])
