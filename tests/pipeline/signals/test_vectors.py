"""One encoder pass for traces and steps: embed stores the step vectors the signals read; signals store the
trace vectors embed reads; each vignette is encoded once; step vectors are the trace's own token vectors."""

from __future__ import annotations

import numpy as np
from sqlmodel import select

from db.engine import session_scope
from db.models import Embedding, Response
from pipeline.annotation._steps import split_steps
from pipeline.cluster import embed_responses, embed_texts
from pipeline.cluster._late import late_chunk, step_spans
from pipeline.signals import compute_study_signals
from tests.factories import add_medrbench_r1, get_or_add_model, make_study

N = 3


def _fields(engine) -> dict[str, int]:
    with session_scope(engine) as s:
        rows = s.exec(select(Embedding.field)).all()
    return {f: rows.count(f) for f in set(rows)}


def test_embed_then_signals_encodes_only_the_vignettes(sqlite_engine, st_model):
    with session_scope(sqlite_engine) as s:
        study = make_study(s, "one-pass")
        responses = add_medrbench_r1(s, study, limit=N)
        # A second model's response to the first case: same vignette, encoded once.
        twin = Response(
            run_id=responses[0].run_id,
            case_id=responses[0].case_id,
            model_id=get_or_add_model(s, study, "Other").id,
            repeat=1,
            prompt="p",
            raw_output="x",
            trace=responses[1].trace,
            answer=responses[0].answer,
        )
        s.add(twin)
        study_id = study.id
    with session_scope(sqlite_engine) as s:
        embedded = embed_responses(s, study_id, progress=False, model=st_model)
    assert embedded.n_embedded == N + 1
    assert _fields(sqlite_engine) == {"trace": N + 1, "steps": N + 1}
    summary = compute_study_signals(sqlite_engine, study_id, embedding_model=st_model)
    assert summary.computed == N + 1
    assert summary.texts_embedded == N  # the distinct vignettes, nothing of the traces again
    assert _fields(sqlite_engine) == {"trace": N + 1, "steps": N + 1, "vignette": N + 1}


def test_signals_first_store_the_trace_vectors_that_embed_then_reuses(sqlite_engine, st_model):
    with session_scope(sqlite_engine) as s:
        study = make_study(s, "signals-first")
        add_medrbench_r1(s, study, limit=N)
        study_id = study.id
    summary = compute_study_signals(sqlite_engine, study_id, embedding_model=st_model)
    assert summary.texts_embedded > N
    assert _fields(sqlite_engine) == {"trace": N, "steps": N, "vignette": N}
    with session_scope(sqlite_engine) as s:
        again = embed_responses(s, study_id, progress=False, model=st_model)
        stored = {
            r.response_id: np.frombuffer(r.vector, dtype="<f4")
            for r in s.exec(select(Embedding).where(Embedding.field == "trace"))
        }
        traces = {r.id: r.trace for r in s.exec(select(Response))}
    assert again.n_embedded == 0 and again.n_cached == N
    ids = sorted(stored)
    fresh, _ = embed_texts(st_model, [traces[i] for i in ids])
    assert np.allclose(np.vstack([stored[i] for i in ids]), fresh, atol=1e-5)  # the very vectors embed makes


def test_step_vectors_pool_the_tokens_of_each_step(st_model):
    steps = ["Chest pain radiating to the left arm with sweating.", "Venetian glass on Murano is famous."]
    trace = "\n\n".join(steps)
    assert step_spans(trace, steps) == [(0, len(steps[0])), (len(steps[0]) + 2, len(trace))]
    assert step_spans("a b", ["a", "c"]) == [(0, 1), None]
    late = late_chunk(st_model, [trace], [split_steps(trace)])
    (v,) = late.step_vectors
    assert v.shape == (2, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    own, _ = embed_texts(st_model, steps)
    cos = (v * own).sum(axis=1)
    assert (cos > 0.6).all()  # each step's vector stays close to the step read on its own ...
    assert float(v[0] @ own[0]) > float(v[0] @ own[1])  # ... and closer to it than to the other step
    whole, _ = embed_texts(st_model, [trace])
    assert np.allclose(late.vectors, whole, atol=1e-5)
