"""Structured output: the answer as JSON (a whole object or array, or one fenced ```json block).

Models asked for structured output (or told to "answer in JSON") put the diagnoses in a field such as
``diagnoses``/``differential``/``final_diagnosis`` and the reasoning in ``reasoning``/``rationale``.
The reader renders the diagnoses as a numbered list (in the model's rank order) for the list parser,
and the reasoning fields, with any text around the block, as the trace. JSON without a diagnosis field
is not this format (None): the other readers take it.
"""

from __future__ import annotations

import json
import re

from pipeline.generate._formats._registry import Split, join, reader

_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)\n[ \t]*```", re.S)
# Field names, normalised to lower case with "_" for any separator.
_ANSWER_KEY = re.compile(r"(?:^|_)(?:diagnos[ie]s|diagnosis|differentials?|ddx|dx|answer|final_answer)(?:_|$)")
_REASONING_KEY = re.compile(
    r"^(?:reasoning|rationale|thinking|thoughts?|analysis|explanation|chain_of_thought|cot|justification)$"
)
_NAME_KEYS = ("diagnosis", "name", "condition", "disease", "dx", "label", "title", "answer")
_RANK_KEYS = ("rank", "order", "position", "priority", "number")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _body(text: str) -> tuple[str, str] | None:
    """(the JSON text, the text around it), or None when the output is not JSON-shaped."""
    stripped = text.strip()
    if stripped[:1] in "{[" and stripped[-1:] in "}]":
        return stripped, ""
    fences = _FENCE.findall(text)
    if len(fences) == 1 and fences[0].strip()[:1] in "{[":
        return fences[0], _FENCE.sub(" ", text)
    return None


def _name(item: object) -> str | None:
    if isinstance(item, str):
        return item.strip() or None
    if isinstance(item, dict):
        fields = {_key(k): v for k, v in item.items()}
        for k in _NAME_KEYS:
            if isinstance(fields.get(k), str) and fields[k].strip():
                return fields[k].strip()
    return None


def _rank(item: object, default: int) -> float:
    if isinstance(item, dict):
        fields = {_key(k): v for k, v in item.items()}
        for k in _RANK_KEYS:
            try:
                return float(fields[k])
            except (KeyError, TypeError, ValueError):
                continue
    return float(default)


def _names(value: object) -> list[str]:
    """The diagnoses a field holds: a string, a list (of strings or objects, in rank order), or {"1": ...}."""
    if isinstance(value, dict):
        value = list(value.values()) if all(re.fullmatch(r"\d+", str(k)) for k in value) else [value]
    if not isinstance(value, list):
        return [n] if (n := _name(value)) else []
    ranked = sorted(enumerate(value), key=lambda p: _rank(p[1], p[0]))
    return [n for _, item in ranked if (n := _name(item))]


def _fields(data: object) -> tuple[list[str], list[str]]:
    """(diagnoses, reasoning texts) from the top level, or one level down ({"response": {...}})."""
    if isinstance(data, list):
        return _names(data), []
    if not isinstance(data, dict):
        return [], []
    names: list[str] = []
    reasoning: list[str] = []
    for raw_key, value in data.items():
        k = _key(str(raw_key))
        if _REASONING_KEY.match(k) and isinstance(value, str):
            reasoning.append(value)
        elif _ANSWER_KEY.search(k) and not names:
            names = _names(value)
    if not names:
        for value in data.values():
            if isinstance(value, dict):
                inner, more = _fields(value)
                if inner:
                    return inner, reasoning + more
    return names, reasoning


@reader("json", order=5)
def read_json(text: str) -> Split | None:
    found = _body(text)
    if found is None:
        return None
    body, around = found
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # broken, or nested deeper than the parser goes: not this format
        return None
    names, reasoning = _fields(data)
    if not names:
        return None
    answer = names[0] if len(names) == 1 else "\n".join(f"{i}. {n}" for i, n in enumerate(names, start=1))
    return Split(join(*reasoning, around), answer)
