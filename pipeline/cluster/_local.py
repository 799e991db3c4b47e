"""The default embedding backend: the shipped all-MiniLM-L6-v2, in this process, offline."""

from __future__ import annotations

from typing import Any

from pipeline.cluster._backends import LOCAL, Embedded, EmbeddingBackend, EmbeddingConfig, embedding_backend
from pipeline.cluster._types import EmbeddingSpec
from pipeline.errors import DxTraceError
from pipeline.local_models import EMBEDDING_MODEL_NAME


@embedding_backend(LOCAL)
class LocalEmbeddings(EmbeddingBackend):
    """Chunks of at most the model's 256 word pieces, length-weighted mean of their vectors."""

    def __init__(self, config: EmbeddingConfig, model: Any = None):
        if config.model not in (None, EMBEDDING_MODEL_NAME):
            raise DxTraceError(
                f"the local embedding backend runs the shipped {EMBEDDING_MODEL_NAME} only, not {config.model!r}; "
                "serve another model and use --backend openai"
            )
        super().__init__(config)
        self._model = model

    @classmethod
    def key_of(cls, config: EmbeddingConfig) -> str:
        return EmbeddingSpec(overlap=config.overlap).key  # unchanged from before backends, so old vectors stay valid

    @classmethod
    def model_name_of(cls, config: EmbeddingConfig) -> str:
        return EMBEDDING_MODEL_NAME

    @property
    def model(self) -> Any:
        if self._model is None:
            from pipeline.local_models import load_embedding_model

            self._model = load_embedding_model()
        return self._model

    def embed(self, texts: list[str], steps: list[list[str]] | None = None) -> Embedded:
        """With `steps`, the step vectors come from the same encoder pass (pipeline.cluster._late)."""
        from pipeline.cluster._embed import embed_texts
        from pipeline.cluster._late import late_chunk

        if steps is not None:
            late = late_chunk(self.model, texts, steps, overlap=self.config.overlap, batch_size=self.config.batch_size)
            return Embedded(late.vectors, late.n_chunks, late.step_vectors)

        vectors, counts = embed_texts(self.model, texts, overlap=self.config.overlap, batch_size=self.config.batch_size)
        return Embedded(vectors, counts)
