"""Embed the traces (or answers) of a study, caching vectors by text hash in the Embedding table."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import delete
from sqlmodel import Session, select

from db.models import Embedding, Response, Run, Study
from pipeline.annotation._steps import split_steps
from pipeline.cluster._backends import (
    LOCAL,
    Embedded,
    EmbeddingBackend,
    EmbeddingConfig,
    open_embedding_backend,
    study_embedding_config,
)
from pipeline.cluster._chunk import chunk_capacity, chunk_text, pool_by_owner
from pipeline.cluster._types import FIELDS, Chunk, EmbeddingSpec, EmbedSummary
from pipeline.errors import DxTraceError

DEFAULT_SPEC = EmbeddingSpec()
# Chunks encoded per progress step: large enough for full batches, small enough for a lively bar.
_BLOCK = 256
_IN_CHUNK = 500  # ids per IN (...) clause
COMMIT_EVERY = 64  # responses embedded per commit: an interrupted run keeps what it finished


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes, dim: int) -> np.ndarray:
    v = np.frombuffer(blob, dtype="<f4")
    if v.shape[0] != dim:
        raise DxTraceError(f"a stored embedding has {v.shape[0]} values, expected {dim}; run embed again")
    return v


def get_study(session: Session, study_id: int) -> Study:
    from pipeline.studies import get_study as find

    return find(session, int(study_id))


def check_field(field: str) -> None:
    if field not in FIELDS:
        raise DxTraceError(f"field must be one of {', '.join(FIELDS)}, got {field!r}")


def study_texts(session: Session, study_id: int, field: str) -> dict[int, str]:
    """Non-empty texts of `field` of every response of the study, by response id."""
    column = Response.trace if field == "trace" else Response.answer
    rows = session.exec(
        select(Response.id, column).join(Run, Run.id == Response.run_id).where(Run.study_id == study_id)
    ).all()
    return {rid: text for rid, text in rows if text and text.strip()}


def _n_study_responses(session: Session, study_id: int) -> int:
    return len(
        session.exec(select(Response.id).join(Run, Run.id == Response.run_id).where(Run.study_id == study_id)).all()
    )


def _stored(session: Session, ids: list[int], key: str, field: str) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for i in range(0, len(ids), _IN_CHUNK):
        part = ids[i : i + _IN_CHUNK]
        rows = session.exec(
            select(Embedding.response_id, Embedding.text_hash).where(
                Embedding.response_id.in_(part), Embedding.embedding_model == key, Embedding.field == field
            )
        ).all()
        for rid, h in rows:
            out.setdefault(rid, set()).add(h)
    return out


@contextmanager
def _progress_bar(total: int, enabled: bool, what: str, unit: str = "chunks") -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeRemainingColumn(),
        transient=False,
    ) as bar:
        yield (bar, bar.add_task(what, total=total))


@dataclass(frozen=True)
class ChunkedTexts:
    """The chunks of several texts, flattened, with the text each came from."""

    chunks: list[Chunk]
    owner: np.ndarray  # index of the text of each chunk


def chunk_texts(texts: list[str], model: Any, overlap: int) -> ChunkedTexts:
    capacity = chunk_capacity(model)
    chunks: list[Chunk] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        for c in chunk_text(text, model.tokenizer, capacity, overlap):
            chunks.append(c)
            owner.append(i)
    return ChunkedTexts(chunks, np.asarray(owner, dtype=np.int64))


def embedding_dim(model: Any) -> int:
    dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
    return int(dim or model.get_sentence_embedding_dimension())


def encode_chunks(
    model: Any, chunks: list[Chunk], *, batch_size: int = 32, progress: bool = False, what: str = "embedding"
) -> np.ndarray:
    """Unit vectors of the chunks, in their order.

    Chunks are encoded longest first in blocks, as one big encode() call would
    sort them, so padding stays minimal and a progress bar can move.
    """
    dim = embedding_dim(model)
    out = np.zeros((len(chunks), dim), dtype=np.float32)
    order = np.argsort([-c.n_tokens for c in chunks], kind="stable")
    with _progress_bar(len(chunks), progress, what) as bar:
        for b in range(0, len(order), _BLOCK):
            idx = order[b : b + _BLOCK]
            out[idx] = model.encode(
                [chunks[i].text for i in idx],
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            if bar:
                bar[0].advance(bar[1], len(idx))
    return out


def embed_texts(model: Any, texts: list[str], *, overlap: int = 32, batch_size: int = 32, progress: bool = False):
    """One pooled unit vector per text, and the number of chunks of each."""
    chunked = chunk_texts(texts, model, overlap)
    vectors = encode_chunks(model, chunked.chunks, batch_size=batch_size, progress=progress)
    weights = np.asarray([c.n_tokens for c in chunked.chunks])
    return pool_by_owner(vectors, weights, chunked.owner, len(texts)), np.bincount(chunked.owner, minlength=len(texts))


def delete_vectors(session: Session, ids: list[int], key: str, field: str) -> None:
    """Remove the stored vectors of these responses for one embedding key and field."""
    for i in range(0, len(ids), _IN_CHUNK):
        session.exec(
            delete(Embedding).where(
                Embedding.response_id.in_(ids[i : i + _IN_CHUNK]),
                Embedding.embedding_model == key,
                Embedding.field == field,
            )
        )


def _store(session: Session, backend: EmbeddingBackend, field: str, ids: list[int], replaced: list[int], hashes,
           embedded: Embedded) -> None:  # fmt: skip
    key = backend.key
    delete_vectors(session, replaced, key, field)
    vectors = embedded.vectors
    session.add_all(
        Embedding(
            response_id=rid,
            embedding_model=key,
            backend=backend.name,
            model_name=backend.model_name,
            field=field,
            text_hash=hashes[rid],
            n_chunks=int(embedded.n_chunks[i]),
            dim=int(vectors.shape[1]),
            vector=to_blob(vectors[i]),
        )
        for i, rid in enumerate(ids)
    )
    session.flush()


def _store_steps(session: Session, key: str, ids: list[int], steps: list[list[str]], vectors) -> None:
    from pipeline.cluster._late import STEPS, step_rows

    delete_vectors(session, ids, key, STEPS)
    session.add_all(step_rows(ids, steps, vectors, key))
    session.flush()


def _check_dim(session: Session, key: str, field: str, embedded: Embedded) -> None:
    """A server that now gives vectors of another length for the same model name is refused, not mixed in."""
    dim = session.exec(
        select(Embedding.dim).where(Embedding.embedding_model == key, Embedding.field == field).limit(1)
    ).first()
    if dim is not None and len(embedded.vectors) and dim != embedded.vectors.shape[1]:
        raise DxTraceError(
            f"the embedding model {key} now gives {embedded.vectors.shape[1]}-dimensional vectors, the stored ones "
            f"have {dim}: a different model answers under the same name; give it its own --model name"
        )


def study_embedding(session: Session, study_id: int) -> EmbeddingConfig:
    """The embedding backend and model of the study (its settings), the shipped MiniLM by default."""
    return study_embedding_config(get_study(session, study_id).settings)


def set_study_embedding(session: Session, study_id: int, config: EmbeddingConfig) -> EmbeddingConfig | None:
    """Make `config` the study's embedding; returns the previous one when the key changed (re-embed), else None."""
    study = get_study(session, study_id)
    old = study_embedding_config(study.settings)
    config.key  # noqa: B018 - an unknown backend is refused before anything is stored
    settings = dict(study.settings or {})
    settings["embedding"] = config.to_settings()
    study.settings = settings
    session.add(study)
    return old if old.key != config.key else None


def embed_responses(
    session: Session,
    study_id: int,
    *,
    field: str = "trace",
    progress: bool = True,
    overlap: int | None = None,
    batch_size: int | None = None,
    model: Any = None,
    commit_every: int = COMMIT_EVERY,
    config: EmbeddingConfig | None = None,
) -> EmbedSummary:
    """Embed every response of the study whose `field` text is new or changed since the last run.

    `config` picks the backend and model (default: the study's settings, else the shipped MiniLM run
    here; `model` is an already loaded MiniLM for the local backend). Vectors go into the Embedding
    table keyed by response, embedding key (backend, model, chunking) and the SHA-256 of the text; a
    vector of an older text of the same response is replaced. The session is committed after every
    `commit_every` responses, so a run that is killed keeps its work and a rerun embeds only what is
    missing; a failed request or a malformed server reply stores nothing of its batch.
    """
    check_field(field)
    get_study(session, study_id)
    config = config or study_embedding(session, study_id)
    changes = {k: v for k, v in (("overlap", overlap), ("batch_size", batch_size)) if v is not None}
    config = replace(config, **changes) if changes else config
    started = time.perf_counter()
    key = config.key
    texts = study_texts(session, study_id, field)
    n_all = _n_study_responses(session, study_id)
    ids = sorted(texts)
    hashes = {rid: text_hash(texts[rid]) for rid in ids}
    stored = _stored(session, ids, key, field)
    todo = [rid for rid in ids if hashes[rid] not in stored.get(rid, set())]
    replaced = [rid for rid in todo if rid in stored]
    n_chunks = 0
    if todo:
        extra = {"model": model} if model is not None and config.backend == LOCAL else {}
        backend = open_embedding_backend(config, **extra)
        # The shipped model's pass over a trace also gives its steps' vectors, which the signals read.
        with_steps = field == "trace" and key == DEFAULT_SPEC.key
        try:
            with _progress_bar(len(todo), progress, "embedding", "responses") as bar:
                for b in range(0, len(todo), max(1, commit_every)):
                    batch = todo[b : b + max(1, commit_every)]
                    steps = [split_steps(texts[rid]) for rid in batch] if with_steps else None
                    embedded = backend.embed([texts[rid] for rid in batch], steps)
                    _check_dim(session, key, field, embedded)
                    n_chunks += int(embedded.n_chunks.sum())
                    _store(session, backend, field, batch, [rid for rid in batch if rid in stored], hashes, embedded)
                    if steps is not None and embedded.step_vectors is not None:
                        _store_steps(session, key, batch, steps, embedded.step_vectors)
                    session.commit()
                    if bar:
                        bar[0].advance(bar[1], len(batch))
        finally:
            backend.close()
    return EmbedSummary(
        study_id=study_id,
        field=field,
        embedding_model=key,
        n_responses=len(ids),
        n_embedded=len(todo),
        n_cached=len(ids) - len(todo),
        n_replaced=len(replaced),
        n_empty=n_all - len(ids),
        n_chunks=n_chunks,
        seconds=time.perf_counter() - started,
    )


def load_vectors(
    session: Session, study_id: int, *, field: str = "trace", key: str | None = None
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """(response ids, unit vectors, texts) of the responses whose stored vector matches their current text.

    key: the embedding key (default: the study's embedding), so vectors of different models never meet."""
    key = key or study_embedding(session, study_id).key
    texts = study_texts(session, study_id, field)
    ids = sorted(texts)
    found: dict[int, np.ndarray] = {}
    for i in range(0, len(ids), _IN_CHUNK):
        part = ids[i : i + _IN_CHUNK]
        rows = session.exec(
            select(Embedding.response_id, Embedding.text_hash, Embedding.dim, Embedding.vector).where(
                Embedding.response_id.in_(part), Embedding.embedding_model == key, Embedding.field == field
            )
        ).all()
        for rid, h, dim, blob in rows:
            if h == text_hash(texts[rid]):
                found[rid] = from_blob(blob, dim)
    kept = [rid for rid in ids if rid in found]
    if not kept:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32), {}
    return np.asarray(kept, dtype=np.int64), np.vstack([found[r] for r in kept]), {r: texts[r] for r in kept}
