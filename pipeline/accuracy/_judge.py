"""The optional LLM-judge tier: an OpenAI-compatible model asked whether the answer names the gold.

Set in the study file (a local vLLM/Ollama/llama.cpp server in real deployments):

    [grading.judge]
    backend = "openai"              # any registered backend
    model = "qwen2.5-7b-instruct"   # the served model id
    base_url = "http://127.0.0.1:8000/v1"
    api_key_env = "JUDGE_KEY"       # optional: the environment variable holding the key
    max_tokens = 200
    extra = { response_format = { type = "json_object" } }   # optional, passed to the server as is

It is asked only for responses the ladder could not confirm. A verdict is stored with its rationale,
the judge model and the hash of the prompt; a reply that is not the asked-for JSON leaves the grade
pending for a clinician, with the reason. A clinician's grade still wins.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import InputError, Problem

JUDGE_PROMPT_VERSION = "dxtrace-judge/1"
SYSTEM = (
    "You grade a diagnostic answer against the reference (gold) diagnosis. The answer is correct if one of "
    "its first {k} diagnoses names the gold diagnosis, a synonym of it, or a more specific form of it. A "
    "broader diagnosis, a related disease or a complication alone is incorrect. Reply with JSON only: "
    '{{"verdict": "correct" or "incorrect", "rationale": "one sentence"}}'
)
USER = "Gold diagnosis: {gold}\n\nAnswer:\n{answer}"
_KEYS = {"backend", "model", "base_url", "api_key_env", "max_tokens", "temperature", "timeout_s", "extra"}


@dataclass(frozen=True)
class JudgeConfig:
    model: str
    backend: str = "openai"
    base_url: str | None = None
    api_key_env: str | None = None
    max_tokens: int = 200
    temperature: float = 0.0
    timeout_s: float = 120.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Any, filename: str = "study", where: str = "grading.judge") -> JudgeConfig:
        """From the study file's [grading.judge] table; InputError names the field."""
        if not isinstance(raw, dict):
            raise InputError(Problem(filename, None, where, "must be a table"))
        problems = [Problem(filename, None, f"{where}.{k}", "unknown key") for k in sorted(set(raw) - _KEYS)]
        model = raw.get("model")
        if not isinstance(model, str) or not model.strip():
            problems.append(Problem(filename, None, f"{where}.model", "the judge's served model id is required"))
        for key, kind in (("max_tokens", int), ("temperature", int | float), ("timeout_s", int | float)):
            value = raw.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, kind) or value < 0):
                problems.append(
                    Problem(filename, None, f"{where}.{key}", f"must be a non-negative number, got {value!r}")
                )
        for key in ("backend", "base_url", "api_key_env"):
            if raw.get(key) is not None and not isinstance(raw.get(key), str):
                problems.append(Problem(filename, None, f"{where}.{key}", "must be text"))
        if raw.get("extra") is not None and not isinstance(raw.get("extra"), dict):
            problems.append(Problem(filename, None, f"{where}.extra", "must be a table"))
        if problems:
            raise InputError(problems)
        return cls(**{k: v for k, v in raw.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in sorted(_KEYS)}


@dataclass(frozen=True)
class JudgeVerdict:
    correct: bool | None  # None: no usable verdict (pending, see reason)
    rationale: str | None
    reason: str | None  # why there is no verdict
    model: str
    prompt_hash: str
    raw: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": "judge",
            "verdict": None if self.correct is None else ("correct" if self.correct else "incorrect"),
            "rationale": self.rationale,
            "reason": self.reason,
            "judge_model": self.model,
            "prompt_hash": self.prompt_hash,
            "prompt_version": JUDGE_PROMPT_VERSION,
            "raw": None if self.raw is None else self.raw[:2000],
        }


def judge_messages(gold: str, answer: str, k: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM.format(k=k)},
        {"role": "user", "content": USER.format(gold=gold.strip(), answer=answer.strip())},
    ]


def prompt_hash(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode("utf-8")).hexdigest()[:16]


_JSON = re.compile(r"\{.*?\}", re.S)


def read_verdict(text: str | None) -> tuple[bool | None, str | None, str | None]:
    """(correct, rationale, reason) from the judge's reply; a malformed reply gives correct=None and why."""
    if not text or not text.strip():
        return None, None, "malformed judge reply: empty"
    for m in _JSON.finditer(text):
        try:
            data = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        verdict = str(data.get("verdict", "")).strip().lower()
        rationale = data.get("rationale")
        rationale = str(rationale).strip() if rationale is not None else None
        if verdict in ("correct", "incorrect"):
            return verdict == "correct", rationale, None
        return None, rationale, f"malformed judge reply: verdict {data.get('verdict')!r} is not correct/incorrect"
    return None, None, f"malformed judge reply: no JSON object in {text.strip()[:120]!r}"


class Judge:
    """One judge backend for a grading run; ask() never raises on a bad reply (it returns the reason)."""

    def __init__(self, config: JudgeConfig):
        from pipeline.generate._backend import BackendConfig, get_backend

        self.config = config
        backend_cls = get_backend(config.backend)
        self.backend = backend_cls(
            BackendConfig(
                name="judge",
                model=config.model,
                base_url=config.base_url,
                api_key_env=config.api_key_env,
                timeout_s=config.timeout_s,
                max_retries=2,
            )
        )
        self._cache: dict[tuple[str, str, int], JudgeVerdict] = {}

    def ask(self, gold: str, answer: str, k: int) -> JudgeVerdict:
        key = (gold, answer, k)
        if key not in self._cache:
            self._cache[key] = self._ask(gold, answer, k)
        return self._cache[key]

    def _ask(self, gold: str, answer: str, k: int) -> JudgeVerdict:
        from pipeline.errors import DxTraceError
        from pipeline.generate._backend import Sampling

        messages = judge_messages(gold, answer, k)
        phash = prompt_hash(messages)
        sampling = Sampling(temperature=self.config.temperature, max_tokens=self.config.max_tokens, seed=0,
                            extra=dict(self.config.extra))  # fmt: skip
        try:
            completion = self.backend.complete(messages, sampling)
        except DxTraceError as exc:
            return JudgeVerdict(None, None, f"judge request failed: {exc}", self.config.model, phash, None)
        correct, rationale, reason = read_verdict(completion.text)
        model = completion.served_model or self.config.model
        return JudgeVerdict(correct, rationale, reason, model, phash, completion.text)

    def close(self) -> None:
        self.backend.close()


def study_judge_config(settings: dict | None) -> JudgeConfig | None:
    """The judge a study's settings name ([grading.judge] of its study file), if any."""
    settings = settings or {}
    raw = (settings.get("grading") or {}).get("judge") or ((settings.get("spec") or {}).get("grading") or {}).get(
        "judge"
    )
    return JudgeConfig.parse(raw) if raw else None
