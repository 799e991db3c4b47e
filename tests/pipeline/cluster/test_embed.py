"""Embedding the shipped DeepSeek-R1 traces with the real MiniLM: meaning, whole-trace coverage, and the cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Embedding, Response
from pipeline.cluster import DEFAULT_SPEC, embed_responses, embed_texts, load_vectors, text_hash
from pipeline.errors import DxTraceError
from tests.factories import MEDRBENCH_R1, add_medrbench_r1, make_study

pytestmark = pytest.mark.model


def _rows() -> list[dict]:
    return [json.loads(line) for line in MEDRBENCH_R1.read_text(encoding="utf-8").splitlines()]


def _unit(v):
    return v / np.linalg.norm(v)


def test_similar_texts_land_nearer_than_unrelated_ones(st_model):
    rows = _rows()
    by_key = {r["gold_diagnosis"].lower(): r["thinking_process"] for r in rows}
    parathyroid = next(t for k, t in by_key.items() if "hyperparathyroidism" in k)
    fracture = next(t for k, t in by_key.items() if "fracture" in k)
    # The same reasoning said in other words, and a trace about something else entirely.
    para_a = "Elevated calcium with an inappropriately high PTH points to primary hyperparathyroidism from an adenoma."
    para_b = (
        "High serum calcium and raised parathyroid hormone suggest a parathyroid adenoma causing hyperparathyroidism."
    )
    unrelated = "The child has a barking cough and inspiratory stridor after a cold, typical of viral croup."
    v, counts = embed_texts(st_model, [para_a, para_b, unrelated, parathyroid, fracture])
    assert counts.tolist()[:3] == [1, 1, 1] and counts[3] > 1 and counts[4] > 1
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    # A short statement of a case lands nearer that case's whole trace than another case's trace.
    assert v[0] @ v[3] > v[0] @ v[4]
    assert v[4] @ v[3] < v[3] @ v[0]


def test_text_past_the_first_chunk_counts(st_model):
    rows = _rows()
    a = next(r["thinking_process"] for r in rows if "hyperparathyroidism" in r["gold_diagnosis"].lower())
    b = next(r["thinking_process"] for r in rows if "fracture" in r["gold_diagnosis"].lower())
    head = a[:600]  # well inside the first 254 word pieces
    spliced = head + "\n\n" + b
    v, counts = embed_texts(st_model, [a, spliced, b, head])
    assert counts[1] > 1
    # Truncated at 256 word pieces, `spliced` would equal `a` (same first chunk); pooled, it leans toward b.
    assert v[1] @ v[2] > v[0] @ v[2] + 0.1
    assert v[1] @ v[0] < 0.97


def test_a_second_run_embeds_nothing_and_a_changed_trace_is_embedded_again(engine, st_model):
    with session_scope(engine) as s:
        study = make_study(s)
        responses = add_medrbench_r1(s, study, limit=12)
        ids = [r.id for r in responses]
        responses[5].trace = None  # e.g. a base model: no trace to embed
        study_id = study.id
    with session_scope(engine) as s:
        first = embed_responses(s, study_id, progress=False, model=st_model)
    assert (first.n_embedded, first.n_cached, first.n_empty, first.n_replaced) == (11, 0, 1, 0)
    assert first.n_chunks > 11  # traces are longer than one chunk
    with session_scope(engine) as s:
        rows = s.exec(select(Embedding).where(Embedding.field == "trace")).all()
        assert len(rows) == 11 and {r.embedding_model for r in rows} == {DEFAULT_SPEC.key}
        assert {(r.backend, r.model_name) for r in rows} == {("local", "all-MiniLM-L6-v2")}
        steps = s.exec(select(Embedding).where(Embedding.field == "steps")).all()
        assert sorted(r.response_id for r in steps) == sorted(r.response_id for r in rows)  # from the same pass
        assert all(r.dim == 384 and len(r.vector) == 384 * 4 for r in rows)
        assert sum(r.n_chunks for r in rows) == first.n_chunks
        before = {r.response_id: bytes(r.vector) for r in rows}

    with session_scope(engine) as s:
        again = embed_responses(s, study_id, progress=False, model=st_model)
    assert (again.n_embedded, again.n_cached, again.n_chunks) == (0, 11, 0)

    changed = ids[2]
    with session_scope(engine) as s:
        r = s.get(Response, changed)
        r.trace = r.trace + "\n\nOn reflection, the red flags point to an aortic dissection instead."
        s.add(r)
    with session_scope(engine) as s:
        third = embed_responses(s, study_id, progress=False, model=st_model)
    assert (third.n_embedded, third.n_replaced, third.n_cached) == (1, 1, 10)
    with session_scope(engine) as s:
        mine = s.exec(select(Embedding).where(Embedding.response_id == changed, Embedding.field == "trace")).all()
        assert len(mine) == 1  # the vector of the old text is replaced, not kept beside it
        assert mine[0].text_hash == text_hash(s.get(Response, changed).trace)
        assert bytes(mine[0].vector) != before[changed]
        traces = s.exec(select(Embedding).where(Embedding.field == "trace")).all()
        others = {r.response_id: bytes(r.vector) for r in traces if r.response_id != changed}
        assert others == {k: v for k, v in before.items() if k != changed}
        got_ids, X, texts = load_vectors(s, study_id)
    assert sorted(got_ids.tolist()) == sorted(set(ids) - {ids[5]})
    assert X.shape == (11, 384) and set(texts) == set(got_ids.tolist())


def test_stale_vectors_are_not_used_until_embedded_again(sqlite_engine, st_model):
    with session_scope(sqlite_engine) as s:
        study = make_study(s)
        ids = [r.id for r in add_medrbench_r1(s, study, limit=4)]
        embed_responses(s, study.id, progress=False, model=st_model)
        s.get(Response, ids[0]).trace = "A different trace now."
        s.flush()
        got, _, _ = load_vectors(s, study.id)
    assert ids[0] not in got.tolist() and len(got) == 3


def test_answers_can_be_embedded_apart_from_traces(sqlite_engine, st_model):
    with session_scope(sqlite_engine) as s:
        study = make_study(s)
        add_medrbench_r1(s, study, limit=3)
        summary = embed_responses(s, study.id, field="answer", progress=False, model=st_model)
        assert summary.n_embedded == 3
        assert {e.field for e in s.exec(select(Embedding))} == {"answer"}
        assert len(load_vectors(s, study.id, field="trace")[0]) == 0


def test_bad_requests_get_one_clear_message(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        study = make_study(s)
        with pytest.raises(DxTraceError, match="field must be one of trace, answer"):
            embed_responses(s, study.id, field="prompt", progress=False)
        with pytest.raises(DxTraceError, match="no study 999"):
            embed_responses(s, 999, progress=False)
        empty = embed_responses(s, study.id, progress=False)  # nothing to embed: no model is loaded
        assert empty.n_responses == 0 and empty.n_embedded == 0
