"""Cosine similarity of diagnosis names with the shipped MiniLM model, cached per name."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from pipeline.local_models import EMBEDDING_MODEL_NAME, load_embedding_model


class NameEmbedder:
    """Encodes names once (batched) and answers similarity matrices from the cache."""

    model_name = EMBEDDING_MODEL_NAME

    def __init__(self, batch_size: int = 256) -> None:
        self._model = load_embedding_model()
        self._cache: dict[str, np.ndarray] = {}
        self.batch_size = batch_size

    def prime(self, names: Iterable[str]) -> None:
        todo = sorted({n for n in names if n and n not in self._cache})
        if not todo:
            return
        vectors = self._model.encode(
            todo, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        for name, vec in zip(todo, vectors, strict=True):
            self._cache[name] = np.asarray(vec, dtype=np.float32)

    def __call__(self, items: list[str], golds: list[str]) -> np.ndarray:
        self.prime([*items, *golds])
        a = np.stack([self._cache[n] for n in items])
        b = np.stack([self._cache[n] for n in golds])
        return np.clip(a @ b.T, -1.0, 1.0)
