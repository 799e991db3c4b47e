"""Model outputs from elsewhere: nested fields, Inspect AI logs, OpenAI Batch output; refusals before any write.

Every file is built here, shaped as those tools write them (Inspect AI's documented EvalLog schema:
https://inspect.aisi.org.uk/eval-logs.html; OpenAI's Batch output: one JSON line per request with
custom_id and response.body). The cases are the shipped Sandmann vignettes.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from sqlmodel import Session, select

from db.models import Case, Model, Response, Run, Study
from pipeline.errors import InputError
from pipeline.generate import parse_response_mapping
from tests.pipeline.test_case_shapes import counts, run

R1_TRACE = "The patient is over 50 with left lower quadrant pain and fever. Diverticulitis fits best."
R1_ANSWER = "1. Diverticulitis\n2. Colorectal carcinoma\n3. Ischaemic colitis\n4. Nephrolithiasis\n5. Appendicitis"


def responses(engine, study: str) -> dict[tuple[str, str, int], Response]:
    with Session(engine) as s:
        rows = s.exec(
            select(Response, Case.case_key, Model.name)
            .join(Case, Response.case_id == Case.id)
            .join(Model, Response.model_id == Model.id)
            .join(Run, Response.run_id == Run.id)
            .join(Study, Run.study_id == Study.id)
            .where(Study.name == study)
        ).all()
    return {(name, key, r.repeat): r for r, key, name in rows}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------- nested fields


def _nested_rows() -> list[dict]:
    return [
        {
            "id": "S001",
            "model": "R-1",
            "results": {"content": R1_ANSWER, "thinking_process": R1_TRACE},
            "judge": {"correct": True},
        },
        {
            "id": "S002",
            "model": "R-1",
            "results": {"content": "### Answer:\nMigraine", "thinking_process": "Headache with aura."},
            "judge": {"correct": False},
        },
    ]


NESTED_MAPPING = """
[responses]
case_set = "sandmann125"
[fields]
case_id = "id"
model = "model"
answer = "results.content"
trace = "results.thinking_process"
correct = "judge.correct"
[models]
"R-1" = { reasoning = true }
"""


def test_answer_and_reasoning_in_separate_nested_fields(capsys, db_url, engine, tmp_path):
    data = write(tmp_path / "held_out.json", json.dumps(_nested_rows(), indent=1))
    mapping = write(tmp_path / "m.toml", NESTED_MAPPING)
    code, out, err = run(capsys, db_url, "import-responses", str(data), "--study", "ext", "--mapping", str(mapping))
    assert code == 0, err
    got = responses(engine, "ext")
    first = got[("R-1", "S001", 0)]
    assert first.trace == R1_TRACE and first.answer == R1_ANSWER
    assert first.diagnoses[0] == "Diverticulitis" and first.parse_ok
    assert got[("R-1", "S002", 0)].trace == "Headache with aura."


def test_answer_and_reasoning_together_in_one_text(capsys, db_url, engine, tmp_path):
    rows = [{"case": "S001", "out": {"text": f"<think>{R1_TRACE}</think>\n{R1_ANSWER}"}}]
    data = write(tmp_path / "one.jsonl", "\n".join(json.dumps(r) for r in rows))
    code, _, err = run(
        capsys,
        db_url,
        "import-responses",
        str(data),
        "--study",
        "ext",
        "--case-set",
        "sandmann125",
        "--map",
        "case_id=case",
        "--map",
        "output=out.text",
        "--model",
        "Local-R1",
    )
    assert code == 0, err
    r = responses(engine, "ext")[("Local-R1", "S001", 0)]
    assert r.trace == R1_TRACE and r.diagnoses[0] == "Diverticulitis"


RESPONSE_REFUSALS = {
    "dict onto the answer": (
        NESTED_MAPPING.replace('answer = "results.content"', 'answer = "results"'),
        "held_out.json:2: answer (column 'results'): is a JSON object, not text",
    ),
    "dict onto the trace": (
        NESTED_MAPPING.replace('trace = "results.thinking_process"', 'trace = "judge"'),
        "held_out.json:2: trace (column 'judge'): is a JSON object, not text",
    ),
    "absent column": (
        NESTED_MAPPING.replace('answer = "results.content"', 'answer = "content"'),
        "held_out.json: answer: column 'content' is not in the file; its columns: id, model, results, judge",
    ),
    "unknown section": (NESTED_MAPPING + "[feilds]\nx = 1\n", "m.toml: feilds: unknown section"),
    "unknown key": (
        NESTED_MAPPING.replace("[responses]\n", '[responses]\ncaseset = "x"\n'),
        "m.toml: responses.caseset: unknown key",
    ),
}


@pytest.mark.parametrize("kind", RESPONSE_REFUSALS)
def test_response_refusal_is_one_line_and_writes_nothing(capsys, db_url, engine, tmp_path, kind):
    assert run(capsys, db_url, "import-cases", "sandmann125")[0] == 0
    before = counts(engine)
    data = write(tmp_path / "held_out.json", json.dumps(_nested_rows(), indent=1))
    text, expected = RESPONSE_REFUSALS[kind]
    mapping = write(tmp_path / "m.toml", text)
    code, _, err = run(capsys, db_url, "import-responses", str(data), "--study", "ext", "--mapping", str(mapping))
    assert code == 2
    assert err.splitlines()[0].startswith(f"error: {tmp_path}/{expected}"), err
    assert counts(engine) == before


# ------------------------------------------------------------------------- Inspect AI


def _inspect_sample(case: str, epoch: int, answer: str, reasoning: str | None) -> dict:
    content: list[dict] = []
    if reasoning is not None:
        content.append({"type": "reasoning", "reasoning": reasoning, "signature": None, "redacted": False})
    content.append({"type": "text", "text": answer})
    return {
        "id": case,
        "epoch": epoch,
        "input": [{"role": "user", "content": "A vignette ..."}],
        "target": "Diverticulitis",
        "messages": [
            {"role": "user", "content": "A vignette ...", "source": "input"},
            {"role": "assistant", "content": content, "source": "generate", "model": "deepseek-reasoner"},
        ],
        "output": {
            "model": "deepseek-reasoner",
            "choices": [
                {"message": {"role": "assistant", "content": content, "source": "generate"}, "stop_reason": "stop"}
            ],
            "usage": {"input_tokens": 120, "output_tokens": 800, "total_tokens": 920, "reasoning_tokens": 600},
            "time": 12.5,
        },
        "scores": {"model_graded_fact": {"value": "C", "answer": answer, "explanation": "matches"}},
        "metadata": {"specialty": "Surgery"},
        "store": {},
        "events": [],
        "model_usage": {},
        "uuid": f"u-{case}-{epoch}",
    }


def _inspect_header() -> dict:
    return {
        "version": 2,
        "status": "success",
        "eval": {
            "eval_id": "e1",
            "run_id": "r1",
            "created": "2026-11-30T10:00:00+00:00",
            "task": "diagnosis",
            "task_id": "t1",
            "task_version": 0,
            "dataset": {"name": "ward", "samples": 2, "sample_ids": ["S001", "S002"]},
            "model": "openai/deepseek-reasoner",
            "config": {"epochs": 2},
            "packages": {"inspect_ai": "0.3.285"},
        },
        "plan": {"name": "plan", "steps": [{"solver": "generate", "params": {}}]},
        "results": {"total_samples": 4, "completed_samples": 4, "scores": []},
        "stats": {"started_at": "2026-11-30T10:00:00+00:00", "completed_at": "2026-11-30T10:05:00+00:00"},
    }


def _inspect_samples() -> list[dict]:
    return [
        _inspect_sample("S001", 1, R1_ANSWER, R1_TRACE),
        _inspect_sample("S001", 2, "1. Diverticulitis\n2. Appendicitis", "Second look: still diverticulitis."),
        _inspect_sample("S002", 1, "Migraine with aura", None),
        _inspect_sample("S002", 2, "Tension-type headache", "Bilateral pressing pain."),
    ]


def _check_inspect_import(engine) -> None:
    got = responses(engine, "insp")
    assert len(got) == 4
    first = got[("deepseek-reasoner", "S001", 0)]
    assert first.trace == R1_TRACE and first.answer == R1_ANSWER and first.diagnoses[0] == "Diverticulitis"
    assert got[("deepseek-reasoner", "S001", 1)].trace == "Second look: still diverticulitis."  # epoch 2 = repeat 1
    assert got[("deepseek-reasoner", "S002", 0)].trace is None


def test_inspect_json_log(capsys, db_url, engine, tmp_path):
    log = write(
        tmp_path / "2026-11-30_diagnosis.json",
        json.dumps({**_inspect_header(), "samples": _inspect_samples()}, indent=2),
    )
    code, out, err = run(capsys, db_url, "import-responses", str(log), "--study", "insp", "--case-set", "sandmann125")
    assert code == 0, err
    _check_inspect_import(engine)
    # Importing the same log again adds nothing.
    before = counts(engine)
    assert run(capsys, db_url, "import-responses", str(log), "--study", "insp", "--case-set", "sandmann125")[0] == 0
    assert counts(engine) == before


def test_inspect_eval_archive(capsys, db_url, engine, tmp_path):
    log = tmp_path / "2026-11-30_diagnosis.eval"
    with zipfile.ZipFile(log, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("_journal/start.json", json.dumps({"version": 2, "eval": _inspect_header()["eval"]}))
        for s in _inspect_samples():
            z.writestr(f"samples/{s['id']}_epoch_{s['epoch']}.json", json.dumps(s))
        z.writestr("summaries.json", json.dumps([{"id": s["id"], "epoch": s["epoch"]} for s in _inspect_samples()]))
        z.writestr("header.json", json.dumps(_inspect_header()))
    code, _, err = run(capsys, db_url, "import-responses", str(log), "--study", "insp", "--case-set", "sandmann125")
    assert code == 0, err
    _check_inspect_import(engine)


def test_inspect_sample_ids_in_metadata_can_be_mapped(capsys, sqlite_engine, tmp_path):
    samples = _inspect_samples()
    for n, s in enumerate(samples):
        s["metadata"]["case_id"], s["id"] = s["id"], n + 1  # Inspect numbered the samples itself
    log = write(tmp_path / "log.json", json.dumps({**_inspect_header(), "samples": samples}))
    url = str(sqlite_engine.url)
    argv = ["import-responses", str(log), "--study", "insp", "--case-set", "sandmann125", "--map"]
    code, _, err = run(capsys, url, *argv, "case_id=metadata.case_id")
    assert code == 0, err
    _check_inspect_import(sqlite_engine)


# ------------------------------------------------------------------------- OpenAI Batch API


def _batch_line(custom_id: str, message: dict, *, status: int = 200, error: dict | None = None) -> str:
    body = {
        "id": f"chatcmpl-{custom_id}",
        "object": "chat.completion",
        "created": 1764500000,
        "model": "o4-mini-2025-04-16",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 150,
            "completion_tokens": 700,
            "total_tokens": 850,
            "completion_tokens_details": {"reasoning_tokens": 512},
        },
    }
    if error:
        body = {"error": error}
    line = {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": f"req_{custom_id}", "body": body},
        "error": None,
    }
    return json.dumps(line)


def test_openai_batch_output(capsys, db_url, engine, tmp_path):
    lines = [
        _batch_line("S001", {"content": R1_ANSWER, "reasoning_content": R1_TRACE}),
        _batch_line("S002", {"content": "1. Migraine\n2. Cluster headache", "reasoning": "Unilateral, with aura."}),
        _batch_line("S003", {}, status=429, error={"message": "Rate limit reached", "type": "rate_limit"}),
    ]
    data = write(tmp_path / "batch_output.jsonl", "\n".join(lines) + "\n")
    code, out, err = run(capsys, db_url, "import-responses", str(data), "--study", "batch", "--case-set", "sandmann125")
    assert code == 0, err
    got = responses(engine, "batch")
    assert got[("o4-mini-2025-04-16", "S001", 0)].trace == R1_TRACE
    assert got[("o4-mini-2025-04-16", "S002", 0)].diagnoses == ["Migraine", "Cluster headache"]
    failed = got[("o4-mini-2025-04-16", "S003", 0)]  # kept, flagged, with why
    assert failed.parse_ok is False and failed.extra["error"] == "Rate limit reached"


def test_openai_batch_with_model_named_and_malformed_body(capsys, sqlite_engine, tmp_path):
    url = str(sqlite_engine.url)
    good = _batch_line("S001", {"content": R1_ANSWER})
    bad = json.dumps({"custom_id": "S002", "response": {"status_code": 200, "body": {"choices": []}}, "error": None})
    data = write(tmp_path / "out.jsonl", good + "\n" + bad + "\n")
    before = counts(sqlite_engine)
    code, _, err = run(capsys, url, "import-responses", str(data), "--study", "b", "--case-set", "sandmann125")
    assert code == 2 and err.strip() == f"error: {data}:2: response.body: malformed server reply: no choices[0]"
    assert counts(sqlite_engine) == before
    data = write(tmp_path / "out.jsonl", good + "\n")
    argv = ["import-responses", str(data), "--study", "b", "--case-set", "sandmann125", "--model", "GPT-5"]
    assert run(capsys, url, *argv)[0] == 0
    assert ("GPT-5", "S001", 0) in responses(sqlite_engine, "b")


def test_response_mapping_unknown_keys_are_each_named():
    with pytest.raises(InputError) as err:
        parse_response_mapping(
            '[responses]\nformat = "excel"\n[field]\ncase_id = "x"\n[grade]\ngrder = "j"\n', "m.toml"
        )
    msg = str(err.value)
    assert "m.toml: field: unknown section" in msg
    assert "m.toml: grade.grder: unknown key; known: grader" in msg
    assert "m.toml: responses.format: must be auto, rows, inspect, openai-batch" in msg


def test_openai_batch_responses_api_body_and_inspect_redacted_reasoning(capsys, sqlite_engine, tmp_path):
    url = str(sqlite_engine.url)
    body = {
        "id": "resp_1",
        "object": "response",
        "model": "o3-2025-04-16",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Weighing LLQ pain."}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": R1_ANSWER, "annotations": []}],
            },
        ],
    }
    line = {"id": "b1", "custom_id": "S001", "response": {"status_code": 200, "body": body}, "error": None}
    data = write(tmp_path / "responses_api.jsonl", json.dumps(line) + "\n")
    assert run(capsys, url, "import-responses", str(data), "--study", "r", "--case-set", "sandmann125")[0] == 0
    got = responses(sqlite_engine, "r")[("o3-2025-04-16", "S001", 0)]
    assert got.trace == "Weighing LLQ pain." and got.diagnoses[0] == "Diverticulitis"

    sample = _inspect_sample("S002", 1, "Migraine", None)
    redacted = {"type": "reasoning", "reasoning": "gAAAAB-encrypted", "redacted": True, "summary": "Aura first."}
    sample["output"]["choices"][0]["message"]["content"].insert(0, redacted)
    log = write(tmp_path / "redacted.json", json.dumps({**_inspect_header(), "samples": [sample]}))
    assert run(capsys, url, "import-responses", str(log), "--study", "r", "--case-set", "sandmann125")[0] == 0
    got = responses(sqlite_engine, "r")[("deepseek-reasoner", "S002", 0)]
    assert got.trace == "Aura first." and "gAAAA" not in (got.raw_output or "")
