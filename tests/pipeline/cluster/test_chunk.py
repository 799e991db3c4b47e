"""Chunking with the model's own tokenizer covers the whole trace, and pooling weighs chunks by length."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.cluster import chunk_capacity, chunk_text, pool
from tests.factories import MEDRBENCH_R1

pytestmark = pytest.mark.model


def _traces() -> list[str]:
    rows = [json.loads(line) for line in MEDRBENCH_R1.read_text(encoding="utf-8").splitlines()]
    return [r["thinking_process"] for r in rows]


def _pieces(tokenizer, text: str) -> list[tuple[int, int]]:
    return tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)["offset_mapping"]


def test_capacity_is_the_model_input_minus_special_tokens(st_model):
    assert st_model.max_seq_length == 256
    assert chunk_capacity(st_model) == 254


def test_every_word_piece_of_the_longest_traces_is_in_a_chunk(st_model):
    tok, cap = st_model.tokenizer, chunk_capacity(st_model)
    longest = sorted(_traces(), key=len)[-3:]
    for trace in longest:
        pieces = _pieces(tok, trace)
        assert len(pieces) > 4 * cap  # a trace the model alone would cut after its first chunk
        chunks = chunk_text(trace, tok, cap, overlap=32)
        assert len(chunks) >= len(pieces) // cap
        for s, e in pieces:
            assert any(c.start <= s and e <= c.end for c in chunks), f"piece {trace[s:e]!r} at {s} is in no chunk"
        for c in chunks:
            assert c.text == trace[c.start : c.end]
            # Each chunk re-tokenises to exactly the pieces counted, and fits the model without truncation.
            assert len(_pieces(tok, c.text)) == c.n_tokens <= cap
        for a, b in zip(chunks, chunks[1:], strict=False):
            assert b.start < a.end  # consecutive chunks overlap
            assert b.start > a.start
        assert chunks[0].start == pieces[0][0] and chunks[-1].end == pieces[-1][1]


def test_short_and_empty_texts(st_model):
    tok, cap = st_model.tokenizer, chunk_capacity(st_model)
    one = chunk_text("Chest pain radiating to the left arm.", tok, cap)
    assert len(one) == 1 and one[0].text == "Chest pain radiating to the left arm."
    assert chunk_text("", tok, cap) == []
    assert chunk_text("   \n ", tok, cap) == []


def test_a_word_longer_than_a_chunk_is_cut_inside_and_still_fits(st_model):
    # MiniLM's WordPiece gives up (one [UNK]) on words over 100 characters, so a word of
    # 90 pieces is the longest there is; a small window makes it longer than a chunk.
    tok, cap = st_model.tokenizer, 32
    text = "Start of the trace. " + "xq" * 45 + " and the end of the trace."
    chunks = chunk_text(text, tok, cap, overlap=4)
    assert len(chunks) >= 3
    for s, e in _pieces(tok, text):
        assert any(c.start <= s and e <= c.end for c in chunks)
    assert all(len(_pieces(tok, c.text)) <= cap for c in chunks)


def test_bad_settings_are_refused(st_model):
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("x y z", st_model.tokenizer, 254, overlap=200)
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_text("x y z", st_model.tokenizer, 4)


def test_pool_weighs_chunks_by_length_and_returns_a_unit_vector():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    v = pool(np.vstack([a, b]), [3, 1])
    assert np.isclose(np.linalg.norm(v), 1.0)
    assert v[0] > v[1] > 0
    assert np.allclose(v, np.array([3, 1]) / np.sqrt(10), atol=1e-6)
