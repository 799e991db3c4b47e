"""The nearest stored vectors of one response, for the app's page runs: no study-wide read of texts.

`load_vectors` checks every stored vector against its response's current text, which means reading every
trace of the study (10,000 traces of 25,000 characters: most of a page run). Here the study's vectors
are read once per process and kept until a vector is added or replaced (the count and the newest id of
the study's embedding rows say so), and the text check is made only for the response itself and the
neighbours about to be shown: a vector of a text that has since changed is never used.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, select

from db.models import Embedding, Response, Run
from pipeline.cluster._embed import from_blob, study_embedding, text_hash

_KEEP = 2  # studies whose vectors stay in memory (100,000 x 384 floats is about 150 MB)
_CACHE: OrderedDict[tuple, tuple[tuple, np.ndarray, np.ndarray, list[str]]] = OrderedDict()


def _where(study_id: int, key: str, field: str):
    return (Run.study_id == study_id, Embedding.embedding_model == key, Embedding.field == field)


def _joined(stmt):
    return stmt.join(Response, Response.id == Embedding.response_id).join(Run, Run.id == Response.run_id)


def vector_matrix(session: Session, study_id: int, field: str, key: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(response ids, unit vectors, the hash of the text each vector was made from) of the study."""
    where = _where(study_id, key, field)
    stamp = tuple(session.exec(_joined(select(func.count(Embedding.id), func.max(Embedding.id))).where(*where)).one())
    cache_key = (str(session.get_bind().url), study_id, key, field)
    hit = _CACHE.get(cache_key)
    if hit is not None and hit[0] == stamp:
        _CACHE.move_to_end(cache_key)
        return hit[1], hit[2], hit[3]
    rows = session.exec(
        _joined(select(Embedding.response_id, Embedding.text_hash, Embedding.dim, Embedding.vector))
        .where(*where)
        .order_by(Embedding.response_id)
    ).all()
    ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    X = np.vstack([from_blob(r[3], r[2]) for r in rows]) if rows else np.zeros((0, 0), dtype=np.float32)
    hashes = [r[1] for r in rows]
    _CACHE[cache_key] = (stamp, ids, X, hashes)
    while len(_CACHE) > _KEEP:
        _CACHE.popitem(last=False)
    return ids, X, hashes


def _current(session: Session, ids: list[int], field: str) -> dict[int, str]:
    column = Response.trace if field == "trace" else Response.answer
    rows = session.exec(select(Response.id, column).where(Response.id.in_(ids))).all()
    return {rid: text_hash(text) for rid, text in rows if text and text.strip()}


def nearest(
    session: Session,
    study_id: int,
    response_id: int,
    n: int,
    *,
    field: str = "trace",
    among: set[int] | None = None,
) -> list[tuple[int, float]]:
    """Up to n (response id, cosine) nearest to the response, itself left out, optionally only `among` these
    responses; [] when the response has no vector of its current text."""
    key = study_embedding(session, study_id).key
    ids, X, hashes = vector_matrix(session, study_id, field, key)
    where = np.flatnonzero(ids == response_id)
    if n <= 0 or not len(where) or _current(session, [response_id], field).get(response_id) != hashes[where[0]]:
        return []
    q = int(where[0])
    sims = X @ X[q]
    sims[q] = -np.inf
    if among is not None:
        sims[~np.isin(ids, np.fromiter(among, dtype=np.int64, count=len(among)))] = -np.inf
    order = [int(i) for i in np.argsort(-sims, kind="stable") if np.isfinite(sims[i])]
    out: list[tuple[int, float]] = []
    for start in range(0, len(order), 4 * n):
        part = order[start : start + 4 * n]
        now = _current(session, [int(ids[i]) for i in part], field)
        out += [(int(ids[i]), float(sims[i])) for i in part if now.get(int(ids[i])) == hashes[i]]
        if len(out) >= n:
            break
    return out[:n]
