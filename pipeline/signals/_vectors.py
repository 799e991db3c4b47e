"""Step and vignette vectors for the signals, cached in the Embedding table beside the trace vectors.

The same model, chunking and key as pipeline.cluster. A trace's step vectors come from the encoder pass
that embeds the trace (pipeline.cluster._late): `embed` stores them, and a signals run on traces not yet
embedded makes them and stores the trace vectors too, so neither pass is paid twice. A vignette keeps one
vector per chunk, so a step is compared with the part of the case it is closest to; each distinct
vignette is encoded once (responses to the same case share it). Rows use field "steps" (one row of
steps x dim per response, n_chunks = number of steps) and "vignette".
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sqlmodel import Session, select

from db.models import Embedding
from pipeline.cluster import DEFAULT_SPEC, text_hash
from pipeline.cluster._embed import chunk_texts, encode_chunks
from pipeline.cluster._late import STEPS, late_chunk, step_rows, steps_hash
from pipeline.local_models import EMBEDDING_MODEL_NAME

VIGNETTE, TRACE = "vignette", "trace"
_IN_CHUNK = 500
KEY = DEFAULT_SPEC.key


def _vignette_hash(vignette: str) -> str:
    return text_hash(json.dumps([VIGNETTE, [vignette]]))


def _decode(row: Embedding) -> np.ndarray:
    return np.frombuffer(row.vector, dtype="<f4").reshape(row.n_chunks, row.dim)


def _rows(session: Session, field: str, column, values: list) -> list[Embedding]:
    out: list[Embedding] = []
    for i in range(0, len(values), _IN_CHUNK):
        out += session.exec(
            select(Embedding).where(
                column.in_(values[i : i + _IN_CHUNK]), Embedding.embedding_model == KEY, Embedding.field == field
            )
        ).all()
    return out


def _delete(session: Session, field: str, ids: list[int]) -> None:
    from pipeline.cluster._embed import delete_vectors

    delete_vectors(session, ids, KEY, field)


def _row(rid: int, field: str, h: str, v: np.ndarray, n_chunks: int) -> Embedding:
    return Embedding(
        response_id=rid,
        embedding_model=KEY,
        backend="local",
        model_name=EMBEDDING_MODEL_NAME,
        field=field,
        text_hash=h,
        n_chunks=n_chunks,
        dim=int(v.shape[-1]),
        vector=np.asarray(v, dtype="<f4").tobytes(),
    )


def _step_vectors(session: Session, model_loader, items: dict[int, tuple[str, list[str], str]]):
    """(response id -> step vectors, texts embedded now); the traces' own vectors are stored on the way."""
    ids = sorted(items)
    cache = {r.response_id: r for r in _rows(session, STEPS, Embedding.response_id, ids)}
    out: dict[int, np.ndarray] = {}
    todo = []
    for rid in ids:
        row = cache.get(rid)
        if row is not None and row.text_hash == steps_hash(items[rid][1]):
            out[rid] = _decode(row)
        else:
            todo.append(rid)
    if not todo:
        return out, 0
    traces, steps = [items[r][0] for r in todo], [items[r][1] for r in todo]
    late = late_chunk(model_loader(), traces, steps, overlap=DEFAULT_SPEC.overlap)
    _delete(session, STEPS, [r for r in todo if r in cache])
    session.add_all(step_rows(todo, steps, late.step_vectors, KEY))
    have = {(r.response_id, r.text_hash) for r in _rows(session, TRACE, Embedding.response_id, todo)}
    for i, rid in enumerate(todo):
        out[rid] = late.step_vectors[i]
        h = text_hash(traces[i])
        if (rid, h) not in have:  # the trace vector from the same pass: `embed` then has nothing to do
            _delete(session, TRACE, [rid])
            session.add(_row(rid, TRACE, h, late.vectors[i], int(late.n_chunks[i])))
    session.flush()
    return out, sum(len(s) for s in steps)


def _vignette_vectors(session: Session, model_loader, vignettes: dict[int, str]):
    """(response id -> vignette chunk vectors, vignettes embedded now); a vignette is encoded once."""
    ids = sorted(vignettes)
    hashes = {rid: _vignette_hash(vignettes[rid]) for rid in ids}
    mine = {r.response_id: r for r in _rows(session, VIGNETTE, Embedding.response_id, ids)}
    out: dict[int, np.ndarray] = {}
    for rid in ids:
        if rid in mine and mine[rid].text_hash == hashes[rid]:
            out[rid] = _decode(mine[rid])
    todo = [rid for rid in ids if rid not in out]
    if not todo:
        return out, 0
    known = {
        r.text_hash: _decode(r)
        for r in _rows(session, VIGNETTE, Embedding.text_hash, sorted({hashes[r] for r in todo}))
    }
    fresh = sorted({vignettes[r] for r in todo if hashes[r] not in known})
    if fresh:
        model = model_loader()
        chunked = chunk_texts(fresh, model, DEFAULT_SPEC.overlap)
        vectors = encode_chunks(model, chunked.chunks)
        for i, text in enumerate(fresh):
            known[_vignette_hash(text)] = vectors[chunked.owner == i]
    _delete(session, VIGNETTE, [r for r in todo if r in mine])
    for rid in todo:
        v = known[hashes[rid]]
        out[rid] = v
        session.add(_row(rid, VIGNETTE, hashes[rid], v.reshape(len(v), -1) if len(v) else v, int(len(v))))
    session.flush()
    return out, len(fresh)


def vectors_of(model: Any, trace: str, steps: list[str], vignette: str) -> tuple[np.ndarray, np.ndarray]:
    """(step vectors, vignette chunk vectors) of one response, made as a signals run makes them, uncached."""
    step_vectors = late_chunk(model, [trace], [steps], overlap=DEFAULT_SPEC.overlap).step_vectors[0]
    chunked = chunk_texts([vignette], model, DEFAULT_SPEC.overlap)
    return step_vectors, encode_chunks(model, chunked.chunks)


def cached_vectors(
    session: Session, model_loader, items: dict[int, tuple[str, list[str], str]]
) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], int]:
    """(response id -> (step vectors, vignette chunk vectors), number of texts embedded now).

    items: response id -> (trace, steps, vignette). Cached rows whose text changed are replaced.
    """
    steps, n_steps = _step_vectors(session, model_loader, items)
    vignettes, n_vignettes = _vignette_vectors(session, model_loader, {rid: v for rid, (_, _, v) in items.items()})
    return {rid: (steps[rid], vignettes[rid]) for rid in items}, n_steps + n_vignettes


def encode_phrases(model: Any, phrases: list[str]) -> np.ndarray:
    """Unit vectors of short phrases (red-flag names and terms)."""
    if not phrases:
        return np.zeros((0, 384), dtype=np.float32)
    return model.encode(phrases, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
