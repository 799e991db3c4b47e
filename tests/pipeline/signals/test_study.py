"""Computing and storing a study's signals: idempotent, resumable, re-computed when the input changes."""

from __future__ import annotations

from sqlmodel import select

from db.engine import session_scope
from db.models import Case, Embedding, ErrorSignal, Response
from pipeline.annotation._steps import split_steps
from pipeline.signals import compute_study_signals, quote_ok, registered, signals_frame
from pipeline.signals._registry import Evidence
from tests.factories import add_medrbench_r1, make_study

N = 4


def _study(engine) -> tuple[int, list[int]]:
    with session_scope(engine) as s:
        study = make_study(s, "signals")
        responses = add_medrbench_r1(s, study, limit=N)
        return study.id, [r.id for r in responses]


def test_compute_store_and_skip_unchanged(engine, st_model):
    study_id, ids = _study(engine)
    first = compute_study_signals(engine, study_id, embedding_model=st_model, batch=3)
    n_signals = len(registered())
    assert first.computed == N and first.unchanged == 0 and first.texts_embedded > 0
    with session_scope(engine) as s:
        rows = s.exec(select(ErrorSignal).where(ErrorSignal.study_id == study_id)).all()
        assert len(rows) == N * n_signals
        for row in rows:
            resp = s.get(Response, row.response_id)
            for e in row.evidence:
                ev = Evidence(e["step"], e["source"], e["quote"], e["why"])
                case = s.get(Case, resp.case_id)
                assert quote_ok(ev, resp.trace, case.vignette, split_steps(resp.trace))
        cached = s.exec(select(Embedding).where(Embedding.field.in_(["steps", "vignette"]))).all()
        assert len(cached) == 2 * N
    again = compute_study_signals(engine, study_id, embedding_model=st_model)
    assert again.computed == 0 and again.unchanged == N and again.texts_embedded == 0

    # A changed trace is computed again (and its step vectors re-embedded); the others are not.
    with session_scope(engine) as s:
        resp = s.get(Response, ids[0])
        resp.trace = resp.trace + "\n\nWait, let me reconsider the whole case once more."
    third = compute_study_signals(engine, study_id, embedding_model=st_model)
    assert third.computed == 1 and third.unchanged == N - 1 and third.texts_embedded > 0
    with session_scope(engine) as s:
        frame = signals_frame(s, study_id)
    assert len(frame) == N * n_signals
    assert set(frame["signal"]) == {p.name for p in registered()}


def test_only_named_signals_and_an_unknown_one_is_refused(sqlite_engine):
    import pytest

    from pipeline.errors import DxTraceError

    study_id, _ = _study(sqlite_engine)
    summary = compute_study_signals(sqlite_engine, study_id, signals=["gold_dropped", "repetition_loop"])
    assert summary.computed == N and summary.texts_embedded == 0  # neither needs vectors
    with session_scope(sqlite_engine) as s:
        assert set(signals_frame(s, study_id)["signal"]) == {"gold_dropped", "repetition_loop"}
    with pytest.raises(DxTraceError, match="unknown signal"):
        compute_study_signals(sqlite_engine, study_id, signals=["no_such_signal"])
