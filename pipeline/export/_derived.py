"""Fields derived from other parts of DxTrace: the effective grade and the trace's steps.

They are written for readers of an export and ignored on import (they are recomputed).
"""

from __future__ import annotations

from sqlmodel import Session


def effective_grade_map(session: Session, study_id: int) -> dict[int, dict] | None:
    """response id -> the grade that counts (a clinician's wins), as pipeline.accuracy decides it."""
    try:
        from pipeline.accuracy import effective_grade_states
    except ImportError:  # grading not installed in this checkout
        return None
    return effective_grade_states(session, study_id)


def split_trace(trace: str | None) -> list[str] | None:
    """The trace's numbered steps, the ones evidence refers to; None if step splitting is not installed."""
    try:
        from pipeline.annotation import split_steps
    except ImportError:
        return None
    return split_steps(trace) if trace else []
