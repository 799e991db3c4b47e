"""The study file's typed schema: every section and key, its type and range, checked before anything is written.

pydantic in strict mode: "five" is not a number, "no" is not a boolean, an unknown key is an error. Each
problem becomes a Problem(file, None, "models[2] (B).temperature", message), all of them at once.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import Problem

Name = Annotated[str, Field(min_length=1, pattern=r"\S")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StudySection(_Strict):
    name: Name
    description: str | None = None
    case_set: Name
    template: Name
    repeats: Annotated[int, Field(ge=1)] = 1
    cases: Annotated[list[Name], Field(min_length=1)] | None = None
    sample: Annotated[int, Field(ge=1)] | None = None
    sample_seed: int = 0
    k: Annotated[int, Field(ge=1, le=100)] = 5
    where: dict[str, str | list[str]] = Field(default_factory=dict)


class ModelSettings(_Strict):
    """The keys a [[models]] entry and [defaults] share."""

    backend: str | None = None
    model: Name | None = None
    base_url: str | None = None
    api_key_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    reasoning: bool = False
    paired_with: Name | None = None
    concurrency: Annotated[int, Field(ge=1, le=1024)] | None = None
    timeout: Annotated[float, Field(gt=0)] | None = None
    max_retries: Annotated[int, Field(ge=0, le=100)] | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    seed: int | None = None
    stop: str | list[str] | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlparse(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value


class ModelEntry(ModelSettings):
    name: Name


class ImportEntry(_Strict):
    source: Name
    mapping: Name | None = None
    case_set: Name | None = None


SECTIONS = ("study", "defaults", "models", "imports", "grading")


_KINDS = {
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a text in quotes",
    "list_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
}


def _message(err: dict[str, Any], known: list[str]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key; known: " + ", ".join(known) if known else "unknown key"
    if kind in ("missing", "string_too_short", "string_pattern_mismatch") and err["loc"][-1] != "api_key_env":
        return "missing or empty"
    if kind == "string_pattern_mismatch":
        return "must be the name of an environment variable (letters, digits, _)"
    if kind == "too_short":
        return "must not be empty"
    if kind in _KINDS:
        return f"{_KINDS[kind]}, got {err['input']!r}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        word = {"greater_than_equal": "at least", "greater_than": "more than"}.get(kind)
        word = word or {"less_than_equal": "at most", "less_than": "less than"}[kind]
        bound = next(iter(err.get("ctx", {}).values()), "")
        return f"must be {word} {bound}, got {err['input']!r}"
    return str(err["msg"]).removeprefix("Value error, ")


def _field(prefix: str, loc: tuple[Any, ...]) -> str:
    # Union members show up as extra loc parts ("int", "list[str]"): the user's key path is what matters.
    parts = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p in _UNION_TAGS))]
    path = ".".join(parts)
    return f"{prefix}.{path}" if prefix and path else prefix or path


_UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "constrained-str", "function-after", "nullable"}


def problems_of(exc: ValidationError, filename: str, prefix: str, model: type[BaseModel]) -> list[Problem]:
    known = sorted(model.model_fields)
    seen: dict[str, Problem] = {}
    for err in exc.errors():
        field = _field(prefix, tuple(err["loc"]))
        seen.setdefault(field, Problem(filename, None, field, _message(err, known)))  # one problem per field
    return list(seen.values())


def check(model: type[BaseModel], data: Any, filename: str, prefix: str, problems: list[Problem]) -> Any:
    """`data` as `model`, or None with its problems appended."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_of(exc, filename, prefix, model))
        return None
