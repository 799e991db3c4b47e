"""The OpenAI-compatible backend against real HTTP servers: llama-cpp-python's server, and recorded replies."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Response, Run
from pipeline.generate import generate
from tests.pipeline.generate.conftest import Reply, recorded, write_study

CASES = ["S001", "S002", "S003"]


def responses(engine) -> list[Response]:
    with session_scope(engine) as session:
        return list(session.exec(select(Response).order_by(Response.case_id, Response.repeat)))


def test_real_llama_server_with_concurrent_requests(engine, llama_server, tmp_path):
    study = write_study(
        tmp_path, name="server", backend="openai", model="smollm2", base_url=llama_server, cases=CASES, max_tokens=32
    )
    summary = generate(engine, study, concurrency=3, progress=False)
    assert summary.completed == 3 and summary.failed == 0
    rows = responses(engine)
    assert len(rows) == 3
    for r in rows:
        assert r.error is None
        assert r.raw_output is not None and r.answer is not None
        assert r.prompt_tokens and r.prompt_tokens > 20
        assert 0 < r.completion_tokens <= 32
        assert r.finish_reason in ("stop", "length")
        assert r.latency_s > 0
        prompt = json.loads(r.prompt)
        assert prompt[-1]["role"] == "user" and "five preliminary diagnoses" in prompt[-1]["content"]
        assert r.parse_ok == (bool(r.diagnoses) and r.parse_error is None) and (r.parse_ok or r.parse_error)
        assert r.parse_reader and r.answer in r.raw_output
    with session_scope(engine) as session:
        run = session.exec(select(Run)).one()
        assert (
            run.status == "complete" and run.meta["base_url"] == llama_server and run.template_name == "five_diagnoses"
        )
    again = generate(engine, study, concurrency=3, progress=False)
    assert again.completed == 0 and again.models[0].already_done == 3
    assert len(responses(engine)) == 3


@pytest.mark.parametrize(
    ("reply", "trace", "diagnoses", "reasoning_tokens", "source", "finish"),
    [
        (
            "vllm_reasoning_content",
            "Okay, left lower quadrant pain with fever in a 52-year-old points to diverticulitis first.",
            ["Diverticulitis", "Ischemic colitis", "Pyelonephritis", "Nephrolithiasis", "Ovarian torsion"],
            None,
            "message.reasoning_content",
            "stop",
        ),
        (
            "vllm_reasoning",
            "Fever and LLQ pain: diverticulitis.",
            ["Diverticulitis", "Colitis"],
            None,
            "message.reasoning",
            "length",
        ),
        (
            "ollama_thinking",
            "The patient is 52 with LLQ pain.",
            ["Diverticulitis", "colitis", "pyelonephritis"],
            None,
            "message.thinking",
            "stop",
        ),
        (
            "deepseek_api",
            "Hmm, the history of a similar episode two years ago suggests recurrent diverticulitis.",
            ["Diverticulitis", "Colorectal cancer"],
            350,
            "message.reasoning_content",
            "stop",
        ),
        ("openai_o1", None, ["Diverticulitis", "Pyelonephritis"], 832, None, "stop"),
        ("inline_think", "LLQ pain, fever, previous episode.", ["Diverticulitis", "Appendicitis"], None, None, "stop"),
        (
            "content_parts",
            "Recurrent LLQ pain suggests diverticulitis.",
            ["Diverticulitis", "Colitis"],
            None,
            "content[type=thinking]",
            "stop",
        ),
    ],
)
def test_reasoning_wherever_the_server_puts_it(
    sqlite_engine, replay, tmp_path, reply, trace, diagnoses, reasoning_tokens, source, finish
):
    replay.serve(Reply(body=recorded(reply)))
    study = write_study(tmp_path, name="r", backend="openai", model="m", base_url=replay.url, cases=["S001"])
    summary = generate(sqlite_engine, study, progress=False)
    assert summary.completed == 1
    (r,) = responses(sqlite_engine)
    body = json.loads(recorded(reply))
    assert r.trace == trace
    assert r.diagnoses == diagnoses and r.parse_ok
    assert r.reasoning_tokens == reasoning_tokens
    assert r.finish_reason == finish
    assert (
        r.prompt_tokens == body["usage"]["prompt_tokens"] and r.completion_tokens == body["usage"]["completion_tokens"]
    )
    assert (r.extra or {}).get("reasoning_source") == source
    assert r.extra["served_model"] == body["model"]
    # What was sent: the model id, the sampling settings, the rendered prompt.
    sent = replay.requests[0]
    assert sent["model"] == "m" and sent["temperature"] == 0.0 and sent["max_tokens"] == 48 and sent["seed"] == 1
    assert json.loads(r.prompt) == sent["messages"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>502 Bad Gateway</html>", "malformed server reply from http://127.0.0.1:"),
        ('{"id": "x", "object": "chat.completion"}', "malformed server reply: no choices[0]"),
        ('{"choices": [{"index": 0, "finish_reason": "stop"}]}', "choices[0].message is missing"),
        ('{"choices": [{"message": {"role": "assistant", "content": 42}}]}', "choices[0].message.content is int"),
    ],
)
def test_malformed_reply_is_recorded_on_the_response_and_retried_next_run(
    sqlite_engine, replay, tmp_path, body, message
):
    replay.serve(Reply(body=body))
    study = write_study(tmp_path, name="bad", backend="openai", model="m", base_url=replay.url, cases=["S001"])
    summary = generate(sqlite_engine, study, progress=False)
    assert summary.failed == 1 and summary.completed == 0
    (r,) = responses(sqlite_engine)
    assert message in r.error
    assert r.raw_output is None and not r.parse_ok and r.prompt
    with session_scope(sqlite_engine) as session:
        assert session.exec(select(Run)).one().status == "failed"
    # The server is fixed; the rerun retries the failed response in place.
    replay.serve(Reply(body=recorded("inline_think")))
    summary = generate(sqlite_engine, study, progress=False)
    assert summary.completed == 1 and summary.failed == 0
    (r,) = responses(sqlite_engine)
    assert r.error is None and r.diagnoses == ["Diverticulitis", "Appendicitis"]
    with session_scope(sqlite_engine) as session:
        assert session.exec(select(Run)).one().status == "complete"


def test_retries_with_backoff_on_5xx_and_429(sqlite_engine, replay, tmp_path):
    error = json.dumps({"error": {"message": "overloaded"}})
    replay.serve(Reply(503, error), Reply(429, error), Reply(body=recorded("openai_o1")))
    study = write_study(tmp_path, name="retry", backend="openai", model="m", base_url=replay.url, cases=["S001"])
    summary = generate(sqlite_engine, study, progress=False)
    assert summary.completed == 1 and summary.failed == 0
    assert len(replay.requests) == 3
    (r,) = responses(sqlite_engine)
    assert r.error is None and r.reasoning_tokens == 832


def test_client_errors_are_not_retried_and_say_what_the_server_said(sqlite_engine, replay, tmp_path):
    replay.serve(Reply(400, json.dumps({"error": {"message": "model 'm' not found"}})))
    study = write_study(tmp_path, name="e400", backend="openai", model="m", base_url=replay.url, cases=["S001"])
    summary = generate(sqlite_engine, study, progress=False)
    assert summary.failed == 1 and len(replay.requests) == 1
    (r,) = responses(sqlite_engine)
    assert "answered HTTP 400: model 'm' not found" in r.error


def test_per_request_timeout(sqlite_engine, replay, tmp_path):
    replay.serve(Reply(body=recorded("openai_o1"), delay_s=3))
    study = write_study(
        tmp_path,
        name="slow",
        backend="openai",
        model="m",
        base_url=replay.url,
        cases=["S001"],
        extra="",
    )
    summary = generate(sqlite_engine, study, timeout_s=0.5, max_retries=0, progress=False)
    assert summary.failed == 1
    (r,) = responses(sqlite_engine)
    assert "no reply within 0.5s" in r.error


def test_requests_run_concurrently(sqlite_engine, replay, tmp_path):
    replay.serve(Reply(body=recorded("vllm_reasoning"), delay_s=0.5))
    cases = [f"S00{i}" for i in range(1, 7)]
    study = write_study(tmp_path, name="conc", backend="openai", model="m", base_url=replay.url, cases=cases)
    summary = generate(sqlite_engine, study, concurrency=3, progress=False)
    assert summary.completed == 6
    assert replay.max_in_flight == 3
    assert len(responses(sqlite_engine)) == 6


def test_api_key_from_the_named_environment_variable(sqlite_engine, replay, tmp_path, monkeypatch):
    from pipeline.errors import DxTraceError

    replay.serve(Reply(body=recorded("openai_o1")))
    study = write_study(tmp_path, name="key", backend="openai", model="m", base_url=replay.url, cases=["S001"])
    study.write_text(study.read_text().replace("seed = 1", 'seed = 1\napi_key_env = "DXTRACE_TEST_KEY"'))
    monkeypatch.delenv("DXTRACE_TEST_KEY", raising=False)
    with pytest.raises(DxTraceError, match="DXTRACE_TEST_KEY"):
        generate(sqlite_engine, study, progress=False)
    monkeypatch.setenv("DXTRACE_TEST_KEY", "sk-test")
    assert generate(sqlite_engine, study, progress=False).completed == 1


@pytest.mark.parametrize(
    ("reply", "reader", "trace_start", "answer_start", "diagnoses", "shape"),
    [
        (
            "qwq_answer_section",
            "answer_section",
            "Alright, so a 52-year-old",
            "1. Sigmoid diverticulitis",
            ["Sigmoid diverticulitis", "Ischemic colitis", "Pyelonephritis", "Nephrolithiasis", "Colorectal carcinoma"],
            "list",
        ),
        (
            "gemini_steps",
            "step_tagged",
            "<step 1> Left lower quadrant",
            "Recurrent sigmoid diverticulitis",
            ["Recurrent sigmoid diverticulitis, Hinchey stage II, with a pericolic abscess"],
            "single",
        ),
        ("inline_think", "think_tags", "LLQ pain", "1. Diverticulitis", ["Diverticulitis", "Appendicitis"], "list"),
        (
            "vllm_reasoning_content",
            "reasoning_field",
            "Okay, left lower quadrant",
            "1.",
            ["Diverticulitis", "Ischemic colitis", "Pyelonephritis", "Nephrolithiasis", "Ovarian torsion"],
            "list",
        ),
    ],
)
def test_generate_stores_the_reader_the_trace_and_the_answer_section(
    sqlite_engine, replay, tmp_path, reply, reader, trace_start, answer_start, diagnoses, shape
):
    """Reasoning inline in the content (no reasoning parser on the server) still ends up in the trace."""
    replay.serve(Reply(body=recorded(reply)))
    study = write_study(tmp_path, name="f", backend="openai", model="m", base_url=replay.url, cases=["S001"])
    assert generate(sqlite_engine, study, progress=False).completed == 1
    (r,) = responses(sqlite_engine)
    assert r.parse_reader == reader and r.parse_ok and r.parse_error is None
    assert r.trace.startswith(trace_start) and r.answer.startswith(answer_start)
    assert r.answer in r.raw_output and r.diagnoses == diagnoses and r.answer_shape == shape
