"""A separate process for the race tests: `python -m tests.pipeline.annotation._race_worker MODE URL ...`."""

from __future__ import annotations

import sys
import time

from db.engine import make_engine, session_scope
from db.models import Study
from pipeline.annotation import AnnotationInput, save_annotation, study_codebook


def _wait(start_at: float) -> None:
    # Both processes start their work at the same wall-clock moment, so the saves really overlap.
    while time.time() < start_at:
        time.sleep(0.005)


def saves(url: str, study_id: int, response_id: int, annotator_id: int, tab: str, n: int, start_at: float) -> None:
    engine = make_engine(url)
    _wait(start_at)
    for i in range(n):
        labels = AnnotationInput(error_modes=["other"], other_description=f"tab {tab} save {i}", rationale=tab)
        with session_scope(engine) as s:
            save_annotation(s, study_id=study_id, response_id=response_id, annotator_id=annotator_id, labels=labels)


def pin(url: str, study_id: int, start_at: float) -> None:
    engine = make_engine(url)
    _wait(start_at)
    with session_scope(engine) as s:
        study_codebook(s, s.get(Study, study_id))


if __name__ == "__main__":
    mode, url, *rest = sys.argv[1:]
    if mode == "saves":
        study_id, response_id, annotator_id, tab, n, start_at = rest
        saves(url, int(study_id), int(response_id), int(annotator_id), tab, int(n), float(start_at))
    else:
        study_id, start_at = rest
        pin(url, int(study_id), float(start_at))
