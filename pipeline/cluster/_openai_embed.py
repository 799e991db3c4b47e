"""Embeddings from any OpenAI-compatible `/v1/embeddings` server: text-embeddings-inference, vLLM, Ollama,
a llama.cpp server, a provider API.

The client, the key handling and the retries with backoff (429, 5xx, timeouts) are generation's
(pipeline.generate._openai). The server's tokenizer is unknown here, so texts are cut into chunks of at
most `max_chars` characters at spaces; the chunk vectors are pooled as for the local model. Every reply
is checked (one vector per input, numbers only, one dimension throughout) before anything is kept.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from pipeline.cluster._backends import Embedded, EmbeddingBackend, EmbeddingConfig, embedding_backend
from pipeline.cluster._chunk import pool_by_owner
from pipeline.errors import DxTraceError
from pipeline.generate._backend import BackendConfig, BackendError

OVERLAP_SHARE = 0.1  # of max_chars, shared by consecutive chunks


def char_chunks(text: str, max_chars: int, overlap: int = 0) -> list[str]:
    """Pieces of at most max_chars characters, cut at whitespace where there is some, covering the text."""
    if max_chars < 16:
        raise ValueError(f"max_chars must be at least 16, got {max_chars}")
    text = text.strip()
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + max_chars // 2, end)
            end = cut if cut > start else end
        out.append(text[start:end].strip())
        if end >= len(text):
            break
        nxt = text.find(" ", max(end - overlap, start + 1), end)
        start = nxt + 1 if overlap and nxt > start else end
    return [c for c in out if c]


def _vector(value: Any, i: int, where: str) -> np.ndarray:
    """One embedding of a reply; a list of token vectors (a llama.cpp server without pooling) is mean-pooled."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        rows = [_numbers(v, i, where) for v in value]
        if len({len(r) for r in rows}) != 1:
            raise BackendError(f"malformed reply from {where}: embedding {i} has token vectors of unequal length")
        return np.mean(np.vstack(rows), axis=0)
    return _numbers(value, i, where)


def _numbers(value: Any, i: int, where: str) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise BackendError(f"malformed reply from {where}: embedding {i} is not a list of numbers")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value):
        raise BackendError(f"malformed reply from {where}: embedding {i} holds a value that is not a number")
    v = np.asarray(value, dtype=np.float64)
    if not np.isfinite(v).all():
        raise BackendError(f"malformed reply from {where}: embedding {i} holds NaN or infinity")
    return v


def parse_embeddings_reply(data: Any, n_inputs: int, where: str) -> np.ndarray:
    """The unit vectors of one /v1/embeddings reply, in input order; BackendError naming what is wrong."""
    if isinstance(data, dict) and "error" in data and not data.get("data"):
        err = data["error"]
        raise BackendError(f"{where} answered with an error: {err.get('message') if isinstance(err, dict) else err}")
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(d, dict) for d in items):
        raise BackendError(f"malformed reply from {where}: no `data` list of objects")
    if len(items) != n_inputs:
        raise BackendError(f"malformed reply from {where}: {len(items)} embedding(s) for {n_inputs} input(s)")
    indexes = [d.get("index") for d in items]
    if all(isinstance(x, int) and not isinstance(x, bool) for x in indexes):
        if sorted(indexes) != list(range(n_inputs)):
            raise BackendError(f"malformed reply from {where}: the indexes are not 0..{n_inputs - 1}")
        items = [items[j] for j in np.argsort(indexes)]
    vectors = [_vector(d.get("embedding"), i, where) for i, d in enumerate(items)]
    dims = {len(v) for v in vectors}
    if len(dims) != 1:
        raise BackendError(f"malformed reply from {where}: embeddings of different lengths {sorted(dims)}")
    out = np.vstack(vectors)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    if (norms == 0).any():
        raise BackendError(f"malformed reply from {where}: an embedding of all zeros")
    return (out / norms).astype(np.float32)


@embedding_backend("openai")
class OpenAIEmbeddings(EmbeddingBackend):
    """POST {base_url}/embeddings, `concurrency` requests in flight, `batch_size` chunks each."""

    def __init__(self, config: EmbeddingConfig):
        from pipeline.generate._openai import make_client

        if not config.model:
            raise DxTraceError("the openai embedding backend needs a model: --model NAME (the served model id)")
        super().__init__(config)
        self.client, base_url = make_client(self._backend_config)
        self.where = base_url or "the OpenAI API"
        self.dim: int | None = None

    @property
    def _backend_config(self) -> BackendConfig:
        c = self.config
        return BackendConfig(
            name=f"embedding {c.model}",
            model=c.model,
            base_url=c.base_url,
            api_key_env=c.api_key_env,
            timeout_s=c.timeout_s,
            max_retries=c.max_retries,
        )

    @classmethod
    def key_of(cls, config: EmbeddingConfig) -> str:
        if not config.model:
            raise DxTraceError("the openai embedding backend needs a model: --model NAME (the served model id)")
        return f"openai:{config.model}/chars{config.max_chars}-mean"

    def _request(self, chunks: list[str]) -> np.ndarray:
        from pipeline.generate._openai import api_errors, json_body

        with api_errors(self.where, self._backend_config):
            raw = self.client.embeddings.with_raw_response.create(
                model=self.config.model, input=chunks, encoding_format="float"
            )
            body = raw.http_response.text
        return parse_embeddings_reply(json_body(body, self.where), len(chunks), self.where)

    def embed(self, texts: list[str], steps: list[list[str]] | None = None) -> Embedded:
        c = self.config
        chunks: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            for piece in char_chunks(text, c.max_chars, int(c.max_chars * OVERLAP_SHARE)):
                chunks.append(piece)
                owner.append(i)
        batches = [chunks[b : b + c.batch_size] for b in range(0, len(chunks), c.batch_size)]
        with ThreadPoolExecutor(max_workers=max(1, c.concurrency), thread_name_prefix="dxtrace-embed") as pool:
            replies = list(pool.map(self._request, batches))  # the first failure is raised; nothing is returned
        vectors = np.vstack(replies) if replies else np.zeros((0, self.dim or 1), dtype=np.float32)
        if replies and self.dim is not None and vectors.shape[1] != self.dim:
            raise BackendError(
                f"malformed reply from {self.where}: {vectors.shape[1]}-dimensional embeddings, "
                f"earlier ones had {self.dim}"
            )
        self.dim = int(vectors.shape[1])
        owner_arr = np.asarray(owner, dtype=np.int64)
        weights = np.asarray([len(ch) for ch in chunks], dtype=np.float64)
        pooled = pool_by_owner(vectors, weights, owner_arr, len(texts))
        return Embedded(pooled, np.bincount(owner_arr, minlength=len(texts)))

    def close(self) -> None:
        self.client.close()
