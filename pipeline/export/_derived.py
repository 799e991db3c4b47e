"""Fields derived from other parts of DxTrace: the effective grade and the trace's steps.

They are written for readers of an export and ignored on import (they are recomputed).
"""

from __future__ import annotations

import pandas as pd
from sqlmodel import Session


def _clean(value):
    """None for pandas' missing values (None, NaN, pd.NA)."""
    if value is None or (not isinstance(value, list | dict) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def effective_grade_map(session: Session, study_id: int) -> dict[int, dict] | None:
    """response id -> the grade that counts (a clinician's wins), as pipeline.accuracy decides it."""
    try:
        from pipeline.accuracy import effective_grades
    except ImportError:  # grading not installed in this checkout
        return None
    frame = effective_grades(session, study_id)
    out: dict[int, dict] = {}
    for row in frame.to_dict("records"):
        method = _clean(row.get("method"))
        if method is None:
            continue  # no grade yet
        correct = _clean(row.get("correct"))
        rank = _clean(row.get("rank"))
        out[int(row["response_id"])] = {
            "correct": None if correct is None else bool(correct),
            "rank": None if rank is None else int(rank),
            "method": method,
            "status": _clean(row.get("status")),
        }
    return out


def split_trace(trace: str | None) -> list[str] | None:
    """The trace's numbered steps, the ones evidence refers to; None if step splitting is not installed."""
    try:
        from pipeline.annotation import split_steps
    except ImportError:
        return None
    return split_steps(trace) if trace else []
