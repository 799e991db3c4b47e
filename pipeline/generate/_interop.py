"""Response files of other tools, read into flat records that import-responses maps like any other file.

One plug-in per tool, registered with @response_format: it says whether a file is its kind, reads
its records (each with a line, or sample number), and names the default field paths. A user's
mapping still overrides any of them (e.g. `case_id = "metadata.case_id"`).

- `inspect`: Inspect AI evaluation logs, `.eval` (a zip: header.json + samples/<id>_epoch_<n>.json)
  or `.json` (one EvalLog with its samples), as documented at https://inspect.aisi.org.uk/eval-logs.html.
- `openai-batch`: OpenAI Batch API output (JSONL of {custom_id, response: {status_code, body}, error}),
  chat-completions bodies (reasoning in reasoning_content / reasoning / thinking parts) and
  Responses-API bodies (output items of type reasoning and message).
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from pipeline._files import decode, iter_jsonl_rows, read_records
from pipeline.errors import InputError, Problem
from pipeline.generate._backend import BackendError
from pipeline.generate._openai import parse_chat_reply

# Field paths into the flat records every format below produces.
FLAT_FIELDS = {"case_id": "case_id", "model": "model", "answer": "answer", "trace": "trace", "repeat": "repeat"}


@dataclass(frozen=True)
class ResponseFormat:
    name: str
    detect: Callable[[Path, bytes], bool]
    read: Callable[[Path, bytes, list[Problem]], list[tuple[int, dict]]]
    fields: dict[str, str]
    help: str


_FORMATS: dict[str, ResponseFormat] = {}


def response_format(name: str, *, detect, fields: dict[str, str], help: str):
    def register(fn):
        _FORMATS[name] = ResponseFormat(name, detect, fn, fields, help)
        return fn

    return register


def format_names() -> list[str]:
    return ["rows", *_FORMATS]


def detect_format(path: Path, data: bytes, name: str | None = None) -> ResponseFormat | None:
    """The tool format of a file (None: plain rows read through the mapping)."""
    if name and name not in ("auto", "rows"):
        if name not in _FORMATS:
            raise InputError(Problem(str(path), None, "format", f"unknown format; use {', '.join(format_names())}"))
        return _FORMATS[name]
    if name == "rows":
        return None
    return next((f for f in _FORMATS.values() if f.detect(path, data)), None)


def read_response_records(
    path: Path, data: bytes, fmt: ResponseFormat | None, problems: list[Problem]
) -> list[tuple[int, dict]]:
    if fmt is None:
        return read_records(path, problems, data)
    return fmt.read(path, data, problems)


# ------------------------------------------------------------------------- Inspect AI


def _content_parts(content: Any) -> tuple[str, str | None]:
    """(answer text, reasoning) of an Inspect message content: a string or a list of typed parts."""
    if isinstance(content, str):
        return content, None
    texts, reasoning = [], []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "reasoning":
            # A redacted part holds the provider's encrypted reasoning: only its summary is readable.
            text = part.get("summary") if part.get("redacted") else part.get("reasoning")
            if isinstance(text, str) and text.strip():
                reasoning.append(text)
        elif part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "".join(texts), "\n\n".join(reasoning) or None


def _inspect_record(sample: dict, default_model: str | None) -> dict:
    output = sample.get("output") if isinstance(sample.get("output"), dict) else {}
    choices = output.get("choices") if isinstance(output.get("choices"), list) else []
    message = choices[0].get("message", {}) if choices and isinstance(choices[0], dict) else {}
    answer, trace = _content_parts(message.get("content") if isinstance(message, dict) else None)
    if not answer and isinstance(output.get("completion"), str):
        answer = output["completion"]
    epoch = sample.get("epoch") if isinstance(sample.get("epoch"), int) else 1
    error = sample.get("error")
    return {
        "case_id": None if sample.get("id") is None else str(sample["id"]),
        "model": output.get("model") or default_model,
        "answer": answer,
        "trace": trace,
        "repeat": max(epoch - 1, 0),  # Inspect counts epochs from 1, DxTrace repeats from 0
        "epoch": epoch,
        "target": sample.get("target"),
        "scores": sample.get("scores"),
        "metadata": sample.get("metadata"),
        "stop_reason": choices[0].get("stop_reason") if choices and isinstance(choices[0], dict) else None,
        "error": error.get("message") if isinstance(error, dict) else error,
    }


def _is_inspect(path: Path, data: bytes) -> bool:
    if path.suffix.lower() == ".eval":
        return True
    if path.suffix.lower() != ".json":
        return False
    head = data[:4096].decode("utf-8", "ignore").lstrip().lstrip("\ufeff")
    return head.startswith("{") and '"eval"' in head and '"version"' in head


def _json(data: bytes, name: str, problems: list[Problem]) -> Any:
    try:
        return json.loads(decode(data, name))
    except json.JSONDecodeError as exc:
        problems.append(Problem(name, exc.lineno, None, f"broken JSON (column {exc.colno}): {exc.msg}"))
        return None


@response_format(
    "inspect",
    detect=_is_inspect,
    fields=FLAT_FIELDS,
    help="Inspect AI evaluation log (.eval or .json)",
)
def read_inspect(path: Path, data: bytes, problems: list[Problem]) -> list[tuple[int, dict]]:
    """One record per sample and epoch; the 'line' is the sample's position in the log."""
    filename = str(path)
    if path.suffix.lower() == ".eval":
        try:
            archive = zipfile.ZipFile(BytesIO(data))
        except zipfile.BadZipFile:
            problems.append(Problem(filename, None, None, "not an Inspect .eval log (not a zip archive)"))
            return []
        names = archive.namelist()
        header_name = "header.json" if "header.json" in names else "_journal/start.json"
        if header_name not in names:
            problems.append(Problem(filename, None, None, "not an Inspect .eval log: no header.json in it"))
            return []
        header = _json(archive.read(header_name), f"{filename}!{header_name}", problems) or {}
        samples = []
        for name in sorted(n for n in names if n.startswith("samples/") and n.endswith(".json")):
            sample = _json(archive.read(name), f"{filename}!{name}", problems)
            if isinstance(sample, dict):
                samples.append(sample)
    else:
        header = _json(data, filename, problems) or {}
        samples = header.get("samples") if isinstance(header, dict) else None
        if samples is None:
            problems.append(Problem(filename, None, "samples", "the log has no samples (was it written with them?)"))
            return []
    if not isinstance(header, dict) or not isinstance(header.get("eval"), dict):
        problems.append(Problem(filename, None, "eval", "not an Inspect log: no eval section"))
        return []
    model = header["eval"].get("model")
    samples = sorted((s for s in samples if isinstance(s, dict)), key=lambda s: (str(s.get("id")), s.get("epoch") or 0))
    return [(n, _inspect_record(s, model)) for n, s in enumerate(samples, start=1)]


# ------------------------------------------------------------------------- OpenAI Batch API


def _responses_api(body: dict) -> tuple[str, str | None]:
    """(answer, reasoning summary) of a Responses-API body: output items of type message and reasoning."""
    texts, reasoning = [], []
    for item in body.get("output") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "reasoning":
            for part in (item.get("summary") or []) + (item.get("content") or []):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    reasoning.append(part["text"])
        elif item.get("type") == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "output_text":
                    texts.append(str(part.get("text", "")))
    return "".join(texts), "\n\n".join(reasoning) or None


def _batch_record(row: dict, filename: str, line: int, problems: list[Problem]) -> dict | None:
    response = row.get("response") if isinstance(row.get("response"), dict) else {}
    body = response.get("body") if isinstance(response.get("body"), dict) else {}
    record = {"case_id": row.get("custom_id"), "model": body.get("model"), "answer": "", "trace": None}
    record.update(custom_id=row.get("custom_id"), status_code=response.get("status_code"), usage=body.get("usage"))
    failed = row.get("error") or (response.get("status_code") not in (None, 200)) or body.get("error")
    if failed:  # a failed request has no output: kept with an empty answer, flagged by the parser
        detail = row.get("error") or body.get("error") or f"HTTP {response.get('status_code')}"
        record["error"] = detail.get("message", json.dumps(detail)) if isinstance(detail, dict) else str(detail)
        return record
    if "output" in body and "choices" not in body:
        record["answer"], record["trace"] = _responses_api(body)
        return record
    try:
        completion = parse_chat_reply(body)
    except BackendError as exc:
        problems.append(Problem(filename, line, "response.body", str(exc)))
        return None
    record.update(answer=completion.text, trace=completion.reasoning, finish_reason=completion.finish_reason)
    record["reasoning_source"] = completion.reasoning_source
    return record


def _is_batch(path: Path, data: bytes) -> bool:
    if path.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
        return False
    first = data[:65536].decode("utf-8", "ignore").lstrip("\ufeff").split("\n", 1)[0]
    try:
        row = json.loads(first)
    except json.JSONDecodeError:
        return '"custom_id"' in first and '"response"' in first
    return isinstance(row, dict) and "custom_id" in row and "response" in row


@response_format(
    "openai-batch",
    detect=_is_batch,
    fields={k: v for k, v in FLAT_FIELDS.items() if k != "repeat"},
    help="OpenAI Batch API output file (JSONL: custom_id, response.body)",
)
def read_openai_batch(path: Path, data: bytes, problems: list[Problem]) -> list[tuple[int, dict]]:
    """One record per line; custom_id is the case id unless the mapping says otherwise."""
    filename = str(path)
    out = []
    for line, row in iter_jsonl_rows(decode(data, filename), filename, problems):
        if "custom_id" not in row:
            problems.append(Problem(filename, line, "custom_id", "missing: not an OpenAI Batch output line"))
            continue
        record = _batch_record(row, filename, line, problems)
        if record is not None:
            out.append((line, record))
    # A failed request has no body to name its model; a batch runs one model, so the others' name it.
    named = Counter(r["model"] for _, r in out if r.get("model"))
    if named:
        for _, record in out:
            record["model"] = record.get("model") or named.most_common(1)[0][0]
    return out


__all__ = ["FLAT_FIELDS", "ResponseFormat", "detect_format", "format_names", "read_response_records"]
