"""Suggested labels from the nearest labelled traces (pipeline.cluster, real embedding model), when the lead turns them on."""

from __future__ import annotations

import pytest

from db.engine import session_scope
from pipeline.annotation import AnnotationInput, annotator_queue, assign, save_annotation, update_study_settings
from tests.annotator.conftest import annotations_of, sign_in
from tests.pipeline.annotation.conftest import build_world

pytestmark = pytest.mark.model


def test_suggestions_are_shown_and_recorded_with_the_annotation(sqlite_engine, make_app):
    from pipeline.cluster import embed_responses

    w = build_world(sqlite_engine, n_annotators=2, limit=60)
    a1, a2 = w.people["ann1"], w.people["ann2"]
    with session_scope(sqlite_engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect, annotator_ids=[a1, a2], per_item=2)
        embed_responses(s, w.study_id, progress=False)
        mine = annotator_queue(s, w.study_id, a1)[0].response_id
        for q in annotator_queue(s, w.study_id, a2):
            if q.response_id != mine:
                labels = AnnotationInput(["red_flag_failure"])
                save_annotation(s, study_id=w.study_id, response_id=q.response_id, annotator_id=a2, labels=labels)
    # off by default: the similar traces are shown without anyone's labels, and no suggestion
    at = sign_in(make_app(sqlite_engine), "ann1")
    assert "**Similar traces**" in [m.value for m in at.markdown]
    assert not at.info and not any("Red-flag" in e.label for e in at.expander)
    assert not any("correct" in e.label for e in at.expander)  # nor other responses' grades
    with session_scope(sqlite_engine) as s:
        update_study_settings(s, w.study_id, show_suggestions=True)
    at = sign_in(make_app(sqlite_engine), "ann1")
    [info] = at.info
    assert "nearest labelled traces: **Red-flag recognition failure**" in info.value
    page = "\n".join(e.label for e in at.expander)
    assert "similarity" in page and "DeepSeek-R1" not in page  # models stay blinded in the panel
    at.checkbox(key="lbl_mode_reasoning_drift").check().run()
    at.button(key="save").click().run()
    [ann] = annotations_of(sqlite_engine, "ann1")
    assert ann.response_id == mine and ann.suggestion_shown is True
    assert ann.suggestion["error_modes"] == ["red_flag_failure"] and ann.suggestion["neighbours"]
