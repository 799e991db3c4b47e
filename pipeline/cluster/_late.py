"""One encoder pass over a trace's chunks gives both the trace vector and a vector for each of its steps.

The trace vector is exactly what `embed_texts` makes (each chunk's sentence vector, pooled by length).
A step's vector is the mean of the model's token vectors over the word pieces inside that step, read
from the same forward pass ("late chunking": Günther et al. 2024, arXiv:2409.04701), then scaled to
unit length. Each word piece has been read in the context of its whole chunk, so a step's vector carries
some of its neighbours' meaning; encoding every step again on its own cost as much as the whole trace.
A step whose word pieces cannot be placed (it is not a verbatim piece of the trace) is encoded on its own.

The step vectors are cached in the Embedding table as one row per response (field "steps", n_chunks =
number of steps), beside the trace vector, so `embed` leaves the signals only the vignettes to encode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.cluster._chunk import pool_by_owner

STEPS = "steps"
STEP_METHOD = "late-chunk-1"  # part of the cache hash: vectors made another way are made again


def steps_hash(steps: list[str]) -> str:
    from pipeline.cluster._embed import text_hash

    return text_hash(json.dumps([STEPS, STEP_METHOD, steps]))


def step_spans(text: str, steps: list[str]) -> list[tuple[int, int] | None]:
    """(start, end) of each step in the text, found in order; None for a step that is not a verbatim piece."""
    out: list[tuple[int, int] | None] = []
    at = 0
    for step in steps:
        i = text.find(step, at)
        if i < 0:
            out.append(None)
            continue
        out.append((i, i + len(step)))
        at = i + len(step)
    return out


@dataclass(frozen=True)
class LateChunked:
    vectors: np.ndarray  # one pooled unit vector per text, as embed_texts makes it
    n_chunks: np.ndarray
    step_vectors: list[np.ndarray]  # per text, (steps x dim) unit vectors


class _StepSums:
    """Running sums of token vectors per step of one text."""

    def __init__(self, spans: list[tuple[int, int] | None], dim: int):
        placed = [(s, j) for j, s in enumerate(spans) if s is not None]
        self.starts = np.asarray([s[0] for s, _ in placed], dtype=np.int64)
        self.ends = np.asarray([s[1] for s, _ in placed], dtype=np.int64)
        self.index = np.asarray([j for _, j in placed], dtype=np.int64)
        self.sums = np.zeros((len(spans), dim), dtype=np.float64)
        self.counts = np.zeros(len(spans), dtype=np.int64)

    def add(self, token_starts: np.ndarray, tokens: np.ndarray) -> None:
        if not len(self.starts) or not len(token_starts):
            return
        k = np.searchsorted(self.starts, token_starts, side="right") - 1
        inside = (k >= 0) & (token_starts < self.ends[np.clip(k, 0, None)])
        if inside.any():
            rows = self.index[k[inside]]
            np.add.at(self.sums, rows, tokens[inside])
            np.add.at(self.counts, rows, 1)


def late_chunk(
    model: Any, texts: list[str], steps: list[list[str]], *, overlap: int = 32, batch_size: int = 32, block: int = 256
) -> LateChunked:
    """Trace vectors and step vectors of `texts` from one encoder pass (see the module's note)."""
    import torch

    from pipeline.cluster._embed import chunk_texts, embedding_dim

    chunked = chunk_texts(texts, model, overlap)
    dim = embedding_dim(model)
    chunk_vectors = np.zeros((len(chunked.chunks), dim), dtype=np.float32)
    sums = [_StepSums(step_spans(t, s), dim) for t, s in zip(texts, steps, strict=True)]
    order = np.argsort([-c.n_tokens for c in chunked.chunks], kind="stable")
    for b in range(0, len(order), block):
        idx = order[b : b + block]
        pieces = [chunked.chunks[i].text for i in idx]
        with torch.inference_mode():
            outs = model.encode(pieces, batch_size=batch_size, output_value=None, show_progress_bar=False)
        offsets = model.tokenizer(
            pieces, add_special_tokens=False, return_offsets_mapping=True, return_attention_mask=False, verbose=False
        )["offset_mapping"]
        for i, out, offs in zip(idx, outs, offsets, strict=True):
            v = out["sentence_embedding"].float().cpu().numpy()
            chunk_vectors[i] = v / max(float(np.linalg.norm(v)), 1e-12)
            mask = out["attention_mask"].bool()
            tokens = out["token_embeddings"][mask].float().cpu().numpy()[1:-1]  # without [CLS] and [SEP]
            if len(tokens) != len(offs):
                continue  # the chunk tokenised differently here: its steps fall back to their own encoding
            chunk = chunked.chunks[i]
            starts = chunk.start + np.asarray([o[0] for o in offs], dtype=np.int64)
            sums[chunked.owner[i]].add(starts, tokens)
    weights = np.asarray([c.n_tokens for c in chunked.chunks])
    pooled = pool_by_owner(chunk_vectors, weights, chunked.owner, len(texts))
    step_vectors = _finish(model, sums, steps, dim, batch_size)
    return LateChunked(pooled, np.bincount(chunked.owner, minlength=len(texts)), step_vectors)


def _finish(model: Any, sums: list[_StepSums], steps: list[list[str]], dim: int, batch_size: int) -> list[np.ndarray]:
    out = []
    missing: list[tuple[int, int]] = []
    for t, s in enumerate(sums):
        norms = np.linalg.norm(s.sums, axis=1, keepdims=True)
        out.append((s.sums / np.where(norms > 0, norms, 1.0)).astype(np.float32))
        missing.extend((t, j) for j in np.flatnonzero(s.counts == 0))
    if missing:  # steps no token landed in: encoded on their own, as before late chunking
        from pipeline.cluster._embed import embed_texts

        vectors, _ = embed_texts(model, [steps[t][j] for t, j in missing], batch_size=batch_size)
        for (t, j), v in zip(missing, vectors, strict=True):
            out[t][j] = v
    return [v.reshape(len(st), dim) for v, st in zip(out, steps, strict=True)]


def step_rows(ids: list[int], steps: list[list[str]], vectors: list[np.ndarray], key: str) -> list:
    """Embedding rows caching the step vectors of responses (one row per response)."""
    from db.models import Embedding
    from pipeline.local_models import EMBEDDING_MODEL_NAME

    return [
        Embedding(
            response_id=rid,
            embedding_model=key,
            backend="local",
            model_name=EMBEDDING_MODEL_NAME,
            field=STEPS,
            text_hash=steps_hash(st),
            n_chunks=int(v.shape[0]),
            dim=int(v.shape[1]),
            vector=np.asarray(v, dtype="<f4").tobytes(),
        )
        for rid, st, v in zip(ids, steps, vectors, strict=True)
    ]
