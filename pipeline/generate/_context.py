"""Before anything is sent: does each prompt fit the model's context? A pure check, called at the start of generate.

The model's context size is `options.n_ctx` of its study entry (the embedded backend's default when it
has none); a server model without one is not checked. Prompt length is estimated from characters
(CHARS_PER_TOKEN): tokenizers differ, so the check catches what clearly cannot fit, not the last token.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pipeline.errors import DxTraceError

CHARS_PER_TOKEN = 4  # English clinical text is about 4 characters a token in common tokenizers
_SHOWN = 5


def context_size(backend: Any) -> int | None:
    """The model's context window in tokens, if the study file or the backend says."""
    size = getattr(backend, "n_ctx", None) or backend.config.options.get("n_ctx")
    try:
        return int(size) if size else None
    except (TypeError, ValueError):
        return None


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def prompts_over_context(model: str, n_ctx: int | None, prompts: Iterable[tuple[str, str]]) -> list[str]:
    """One message per case whose prompt (case key, prompt text) is estimated longer than the context."""
    if not n_ctx:
        return []
    out = []
    for case_key, text in prompts:
        tokens = estimate_tokens(text)
        if tokens > n_ctx:
            out.append(
                f"case {case_key!r}: the prompt is about {tokens} tokens ({len(text)} characters), over the "
                f"context of model {model!r} ({n_ctx} tokens)"
            )
    return out


def check_context(over: list[str]) -> None:
    """Refuse the run, naming the cases, before any request is sent."""
    if not over:
        return
    shown = over[:_SHOWN] + ([f"... and {len(over) - _SHOWN} more case(s)"] if len(over) > _SHOWN else [])
    raise DxTraceError(
        "\n".join(shown) + "\nnothing was sent: shorten these vignettes, leave the cases out (study cases/where), "
        "or give the model a larger context (options.n_ctx)"
    )
