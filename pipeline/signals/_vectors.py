"""Step and vignette vectors for the signals, cached in the Embedding table like the trace vectors.

The same model, chunking and key as pipeline.cluster (so the cache entries sit beside the trace vectors):
each step is chunked to the model's input and pooled; a vignette keeps one vector per chunk, so a step
is compared with the part of the case it is closest to. Rows use field "steps" (one row of steps x dim
per response, n_chunks = number of steps) and "vignette".
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sqlalchemy import delete
from sqlmodel import Session, select

from db.models import Embedding
from pipeline.cluster import DEFAULT_SPEC, text_hash
from pipeline.cluster._chunk import pool_by_owner
from pipeline.cluster._embed import chunk_texts, encode_chunks

STEPS, VIGNETTE = "steps", "vignette"


def _hash(field: str, texts: list[str]) -> str:
    return text_hash(json.dumps([field, texts]))


def _decode(row: Embedding) -> np.ndarray:
    return np.frombuffer(row.vector, dtype="<f4").reshape(row.n_chunks, row.dim)


def _cached(session: Session, ids: list[int], field: str) -> dict[int, Embedding]:
    rows = session.exec(
        select(Embedding).where(
            Embedding.response_id.in_(ids), Embedding.embedding_model == DEFAULT_SPEC.key, Embedding.field == field
        )
    ).all()
    return {r.response_id: r for r in rows}


def _encode(model: Any, texts_per_item: list[list[str]], pooled: bool) -> list[np.ndarray]:
    """Per item, one unit vector per text (pooled over its chunks) or per chunk of its texts."""
    flat = [t for texts in texts_per_item for t in texts]
    chunked = chunk_texts(flat, model, DEFAULT_SPEC.overlap)
    vectors = encode_chunks(model, chunked.chunks) if chunked.chunks else np.zeros((0, 384), dtype=np.float32)
    if pooled:
        weights = np.asarray([c.n_tokens for c in chunked.chunks])
        per_text = pool_by_owner(vectors, weights, chunked.owner, len(flat))
        out, at = [], 0
        for texts in texts_per_item:
            out.append(per_text[at : at + len(texts)])
            at += len(texts)
        return out
    out = []
    at = 0
    for texts in texts_per_item:
        mask = (chunked.owner >= at) & (chunked.owner < at + len(texts))
        out.append(vectors[mask])
        at += len(texts)
    return out


def cached_vectors(
    session: Session, model_loader, items: dict[int, tuple[list[str], str]]
) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], int]:
    """(response id -> (step vectors, vignette chunk vectors), number of texts embedded now).

    items: response id -> (steps, vignette). Cached rows whose text changed are replaced.
    """
    ids = sorted(items)
    out: dict[int, list[np.ndarray | None]] = {rid: [None, None] for rid in ids}
    embedded = 0
    for slot, field in ((0, STEPS), (1, VIGNETTE)):
        cache = _cached(session, ids, field) if ids else {}
        texts = {rid: items[rid][0] if field == STEPS else [items[rid][1]] for rid in ids}
        todo = []
        for rid in ids:
            row = cache.get(rid)
            if row is not None and row.text_hash == _hash(field, texts[rid]):
                out[rid][slot] = _decode(row)
            else:
                todo.append(rid)
        if not todo:
            continue
        model = model_loader()
        vectors = _encode(model, [texts[rid] for rid in todo], pooled=field == STEPS)
        replaced = [rid for rid in todo if rid in cache]
        if replaced:
            session.exec(
                delete(Embedding).where(
                    Embedding.response_id.in_(replaced),
                    Embedding.embedding_model == DEFAULT_SPEC.key,
                    Embedding.field == field,
                )
            )
        for rid, v in zip(todo, vectors, strict=True):
            out[rid][slot] = v
            session.add(
                Embedding(
                    response_id=rid,
                    embedding_model=DEFAULT_SPEC.key,
                    field=field,
                    text_hash=_hash(field, texts[rid]),
                    n_chunks=int(v.shape[0]),
                    dim=int(v.shape[1]) if v.ndim == 2 and v.shape[0] else 384,
                    vector=np.asarray(v, dtype="<f4").tobytes(),
                )
            )
            embedded += len(texts[rid])
        session.flush()
    return {rid: (v[0], v[1]) for rid, v in out.items()}, embedded


def encode_phrases(model: Any, phrases: list[str]) -> np.ndarray:
    """Unit vectors of short phrases (red-flag names and terms)."""
    if not phrases:
        return np.zeros((0, 384), dtype=np.float32)
    return model.encode(phrases, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
