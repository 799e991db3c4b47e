"""Assignment's default choice: incorrect responses with a trace; answer-only ones are counted, not assigned."""

from __future__ import annotations

from sqlmodel import select

from db.engine import session_scope
from db.models import Assignment, Response
from pipeline.annotation import NO_TRACE, assign, default_response_ids, default_selection
from tests.pipeline.annotation.conftest import build_world


def strip_traces(engine, ids: list[int], empty: str | None = None) -> None:
    """Make these responses answer-only (None or an empty/blank trace)."""
    with session_scope(engine) as s:
        for rid in ids:
            r = s.get(Response, rid)
            r.trace = empty
            s.add(r)


def test_default_choice_leaves_out_answer_only_and_says_why(engine):
    w = build_world(engine, n_annotators=2)
    answer_only = w.incorrect[:5]
    strip_traces(engine, answer_only[:3])
    strip_traces(engine, answer_only[3:], empty="")
    with session_scope(engine) as s:
        chosen = default_selection(s, w.study_id)
        assert sorted(chosen.response_ids) == sorted(set(w.incorrect) - set(answer_only))
        assert chosen.left_out == {NO_TRACE: 5}
        assert "69 incorrect response(s) selected; 5 left out: answer only" in chosen.note()
        assert default_response_ids(s, w.study_id) == chosen.response_ids
        every = default_selection(s, w.study_id, include_answer_only=True)
        assert sorted(every.response_ids) == sorted(w.incorrect) and not every.left_out
        report = assign(s, w.study_id, annotator_ids=[w.people["ann1"], w.people["ann2"]], per_item=1)
        assert report.n_items == 69 and "5 left out: answer only, no reasoning trace to label" in report.summary()
        assigned = set(s.exec(select(Assignment.response_id)))
    assert assigned.isdisjoint(answer_only)
    with session_scope(engine) as s:
        report = assign(s, w.study_id, annotator_ids=[w.people["ann1"]], per_item=1, include_answer_only=True)
        assert report.n_items == 74 and not report.left_out
        assert set(answer_only) <= set(s.exec(select(Assignment.response_id)))
