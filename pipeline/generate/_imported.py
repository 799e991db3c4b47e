"""The "import" backend: a model whose responses were produced elsewhere and imported from a file."""

from __future__ import annotations

from pipeline.errors import DxTraceError
from pipeline.generate._backend import Backend, Completion, Message, Sampling, backend


@backend("import")
class ImportedBackend(Backend):
    """Nothing to run: `python -m pipeline import-responses` loads this model's responses."""

    generates = False

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        raise DxTraceError(
            f"model {self.config.name!r} has backend 'import': load its responses with "
            "python -m pipeline import-responses, it cannot be run"
        )
