"""Split a long trace into pieces the embedding model takes whole, and pool their vectors.

The model reads at most 256 word pieces (special tokens included) and silently
drops the rest, so a trace of 800 word pieces would be judged by its first
paragraph. We count word pieces with the model's own tokenizer, cut at word
boundaries (so a chunk re-tokenises to exactly the same pieces), let
consecutive chunks overlap, and pool the chunk vectors weighted by length.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.cluster._types import Chunk

# A single "word" longer than a chunk (a pasted table without spaces) must be cut
# inside the word; a mid-word start re-tokenises a little differently, so keep a margin.
_MIDWORD_MARGIN = 8


def chunk_capacity(model: Any) -> int:
    """Word pieces of text that fit in one model input, after [CLS] and [SEP]."""
    return int(model.max_seq_length) - model.tokenizer.num_special_tokens_to_add(pair=False)


def chunk_text(text: str, tokenizer: Any, max_tokens: int, overlap: int = 32) -> list[Chunk]:
    """Chunks of at most `max_tokens` word pieces that together cover every word piece of `text`."""
    if max_tokens < 16:
        raise ValueError(f"max_tokens must be at least 16, got {max_tokens}")
    if not 0 <= overlap < max_tokens // 2:
        raise ValueError(f"overlap must be between 0 and {max_tokens // 2 - 1}, got {overlap}")
    # verbose=False: a trace longer than the model input is the point here, not a mistake.
    enc = tokenizer(
        text, add_special_tokens=False, return_offsets_mapping=True, return_attention_mask=False, verbose=False
    )
    offsets: list[tuple[int, int]] = enc["offset_mapping"]
    words: list[int | None] = enc.word_ids()
    n = len(offsets)
    if n == 0:
        return []

    def word_start(i: int) -> int:
        # Move back to the first word piece of the word that piece i belongs to.
        while i > 0 and words[i] is not None and words[i - 1] == words[i]:
            i -= 1
        return i

    chunks: list[Chunk] = []
    start = 0
    while True:
        end = min(start + max_tokens, n)
        if end < n:
            cut = word_start(end)
            # A word longer than the whole window: cut inside it, with a margin.
            end = cut if cut > start else min(start + max_tokens - _MIDWORD_MARGIN, n)
        chunks.append(
            Chunk(text[offsets[start][0] : offsets[end - 1][1]], offsets[start][0], offsets[end - 1][1], end - start)
        )
        if end >= n:
            return chunks
        nxt = word_start(max(end - overlap, start + 1))
        start = nxt if nxt > start else end


def pool(vectors: np.ndarray, weights: np.ndarray | list[int]) -> np.ndarray:
    """Length-weighted mean of unit chunk vectors, scaled back to unit length."""
    w = np.asarray(weights, dtype=np.float64)
    v = (np.asarray(vectors, dtype=np.float64) * w[:, None]).sum(axis=0) / w.sum()
    norm = np.linalg.norm(v)
    return (v / norm if norm > 0 else v).astype(np.float32)


def pool_by_owner(vectors: np.ndarray, weights: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """`pool` for many texts at once: row i pools the chunk vectors whose owner is i."""
    sums = np.zeros((n, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, owner, np.asarray(vectors, dtype=np.float64) * np.asarray(weights, dtype=np.float64)[:, None])
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)
