"""OpenAI-compatible HTTP servers: vLLM, Ollama, a llama.cpp server, SGLang, provider APIs.

The reply is read as the JSON the server sent, so reasoning is captured wherever
the server puts it: ``reasoning_content`` (vLLM, DeepSeek API, llama.cpp server),
``reasoning`` (vLLM >= 0.9, Ollama, OpenRouter), ``thinking`` (Ollama's native
field), content parts of type "thinking"/"reasoning", or inline ``<think>`` in the
content (split later by the runner). Retries with backoff on 429/5xx/timeouts are
the openai client's own (honouring Retry-After).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pipeline.errors import DxTraceError
from pipeline.generate._backend import Backend, BackendConfig, BackendError, Completion, Message, Sampling, backend

_REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")
_RETRYABLE_STATUS = {408, 409, 425, 429}
NO_KEY = "not-needed"  # local servers ignore the key, but the client requires one


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _part_text(value: Any) -> str:
    """Text of a content part; Mistral nests thinking as a list of text chunks."""
    if isinstance(value, list):
        return "".join(_part_text(v.get("text", "") if isinstance(v, dict) else v) for v in value)
    return value if isinstance(value, str) else ""


def parse_chat_reply(data: Any) -> Completion:
    """A Completion from a chat-completions JSON body; BackendError naming what is malformed."""
    if not isinstance(data, dict):
        raise BackendError(f"malformed server reply: expected a JSON object, got {type(data).__name__}")
    if "error" in data and not data.get("choices"):
        err = data["error"]
        message = err.get("message") if isinstance(err, dict) else err
        raise BackendError(f"server error: {message}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise BackendError("malformed server reply: no choices[0]")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise BackendError("malformed server reply: choices[0].message is missing")
    content = message.get("content")
    reasoning_parts: list[str] = []
    source = None
    if isinstance(content, list):  # content parts: [{"type": "text"|"thinking", "text": ...}]
        texts = []
        for part in content:
            if not isinstance(part, dict):
                continue
            value = _part_text(part.get("text") or part.get("thinking") or part.get("reasoning") or "")
            if part.get("type") in ("thinking", "reasoning"):
                reasoning_parts.append(value)
                source = "content[type=thinking]"
            else:
                texts.append(value)
        content = "".join(texts)
    elif content is not None and not isinstance(content, str):
        raise BackendError(f"malformed server reply: choices[0].message.content is {type(content).__name__}")
    for field in _REASONING_FIELDS:
        value = message.get(field)
        if isinstance(value, str) and value.strip():
            reasoning_parts.append(value)
            source = f"message.{field}"
            break
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    details = usage.get("completion_tokens_details") or {}
    reasoning_tokens = _as_int(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    reasoning_tokens = reasoning_tokens if reasoning_tokens is not None else _as_int(usage.get("reasoning_tokens"))
    return Completion(
        text=content or "",
        reasoning="\n\n".join(p for p in reasoning_parts if p) or None,
        reasoning_source=source,
        prompt_tokens=_as_int(usage.get("prompt_tokens")),
        completion_tokens=_as_int(usage.get("completion_tokens")),
        reasoning_tokens=reasoning_tokens,
        finish_reason=choice.get("finish_reason") if isinstance(choice.get("finish_reason"), str) else None,
        served_model=data.get("model") if isinstance(data.get("model"), str) else None,
    )


@backend("openai")
class OpenAIBackend(Backend):
    """Any server speaking the OpenAI chat-completions API."""

    default_concurrency = 4

    def __init__(self, config: BackendConfig):
        super().__init__(config)
        self.client, self.base_url = make_client(config)
        self.max_tokens_param = str(config.options.get("max_tokens_param", "max_tokens"))

    def describe(self) -> dict[str, Any]:
        import openai

        return {
            "backend": self.name,
            "model": self.config.model,
            "base_url": self.base_url or "https://api.openai.com/v1",
            "openai": openai.__version__,
        }

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:

        kwargs: dict[str, Any] = {"model": self.config.model, "messages": messages}
        if sampling.temperature is not None:
            kwargs["temperature"] = sampling.temperature
        if sampling.top_p is not None:
            kwargs["top_p"] = sampling.top_p
        if sampling.max_tokens is not None:
            # o1-style models take max_completion_tokens instead.
            if self.max_tokens_param == "max_tokens":
                kwargs["max_tokens"] = sampling.max_tokens
            else:
                kwargs.setdefault("extra_body", {})[self.max_tokens_param] = sampling.max_tokens
        if sampling.seed is not None:
            kwargs["seed"] = sampling.seed
        if sampling.stop:
            kwargs["stop"] = list(sampling.stop)
        if sampling.extra:
            kwargs.setdefault("extra_body", {}).update(sampling.extra)
        where = self.base_url or "the OpenAI API"
        start = time.perf_counter()
        with api_errors(where, self.config):
            raw = self.client.chat.completions.with_raw_response.create(**kwargs)
            body = raw.http_response.text
        latency = time.perf_counter() - start
        completion = parse_chat_reply(json_body(body, where))
        return Completion(**{**completion.__dict__, "latency_s": latency})

    def close(self) -> None:
        self.client.close()


def make_client(config: BackendConfig) -> tuple[Any, str | None]:
    """(openai.OpenAI client, base URL) for a backend config; the key is read from the environment, never stored.

    The client retries 408/409/429/5xx, timeouts and lost connections `config.max_retries` times with
    exponential backoff (honouring Retry-After): generation and embedding servers share that policy.
    """
    import openai

    if not config.model:
        raise DxTraceError(f"model {config.name!r}: the openai backend needs `model` (the served model id)")
    base_url = config.base_url or os.environ.get("OPENAI_BASE_URL")
    if config.api_key_env:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise DxTraceError(
                f"model {config.name!r}: the environment variable {config.api_key_env} (api_key_env) is not set"
            )
    else:
        key = os.environ.get("OPENAI_API_KEY") or NO_KEY
    client = openai.OpenAI(base_url=base_url, api_key=key, timeout=config.timeout_s, max_retries=config.max_retries)
    return client, base_url


@contextmanager
def api_errors(where: str, config: BackendConfig) -> Iterator[None]:
    """The openai client's exceptions as one-line BackendErrors (retryable where a later try may succeed)."""
    import openai

    try:
        yield
    except openai.APITimeoutError:
        raise BackendError(
            f"{where}: no reply within {config.timeout_s:g}s (after {config.max_retries} retries)", retryable=True
        ) from None
    except openai.APIConnectionError as exc:
        raise BackendError(f"cannot reach {where}: {exc}", retryable=True) from None
    except openai.APIStatusError as exc:
        status = exc.status_code
        retryable = status in _RETRYABLE_STATUS or status >= 500
        raise BackendError(
            f"{where} answered HTTP {status}: {_error_detail(exc)}", retryable=retryable, status=status
        ) from None
    except openai.APIResponseValidationError as exc:
        raise BackendError(f"malformed server reply from {where}: {exc}") from None


def json_body(body: str, where: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise BackendError(
            f"malformed server reply from {where}: not JSON ({exc.msg} at column {exc.colno}): {body[:200]!r}"
        ) from None


def _error_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:500]
        return json.dumps(body)[:500]
    return str(getattr(exc, "message", exc))[:500]
