"""Fixtures shared with the generation tests: the HTTP server replaying OpenAI-compatible replies."""

from tests.pipeline.generate.conftest import replay  # noqa: F401
