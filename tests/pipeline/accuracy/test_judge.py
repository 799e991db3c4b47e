"""The LLM-judge tier end to end against llama-cpp-python's real OpenAI-compatible server (SmolLM2 GGUF)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from db.models import Grade
from pipeline.accuracy import JudgeConfig, effective_grades, grade_study, read_verdict
from pipeline.accuracy._judge import study_judge_config
from pipeline.errors import DxTraceError, InputError
from pipeline.local_models import serve_gguf
from tests.pipeline.accuracy.test_check import build
from tests.pipeline.generate.conftest import Reply

# The server constrains the reply to this schema (llama.cpp grammar), so even the 135M model answers in form.
SCHEMA = {
    "type": "json_object",
    "schema": {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["correct", "incorrect"]},
            "rationale": {"type": "string"},
        },
        "required": ["verdict", "rationale"],
    },
}


@pytest.fixture(scope="module")
def judge_server() -> Iterator[str]:
    try:
        with serve_gguf(threads=2, n_ctx=2048) as url:
            yield url
    except DxTraceError as exc:
        pytest.fail(f"llama_cpp.server: {exc}")


def test_judge_tier_end_to_end(sqlite_engine, judge_server):
    with Session(sqlite_engine) as session:
        study, _ = build(session, imported=False)
        study.settings = {"grading": {"judge": {"model": "smollm2", "base_url": judge_server, "max_tokens": 60,
                                                "extra": {"response_format": SCHEMA}}}}  # fmt: skip
        session.add(study)
        session.flush()
        summary = grade_study(session, study.id, embeddings=False)
        session.commit()
        assert summary.by_method["judge"] == 2  # c3 and c4: the ladder found no confident match
        judged = session.exec(select(Grade).where(Grade.method == "judge")).all()
        assert len(judged) == 2
        for g in judged:
            ev = g.details["evidence"]
            assert ev["tier"] == "judge" and ev["judge_model"] and len(ev["prompt_hash"]) == 16
            assert ev["ladder_method"] == "none"
            if ev["verdict"] is None:
                assert g.status == "pending" and ev["reason"].startswith(("malformed", "judge request"))
            else:
                assert g.correct == (ev["verdict"] == "correct") and g.status == "auto"
                assert isinstance(ev["rationale"], str)
        assert any(g.details["evidence"]["verdict"] is not None for g in judged)
        # The ladder's confident grades are not sent to the judge.
        frame = effective_grades(session, study.id).set_index("case_key")
        assert frame.loc["c1", "method"] == "exact" and frame.loc["c2", "method"] == "terminology"


def test_judge_unreachable_leaves_pending_with_reason(sqlite_engine):
    with Session(sqlite_engine) as session:
        study, _ = build(session, imported=False)
        cfg = JudgeConfig(model="x", base_url="http://127.0.0.1:9/v1", timeout_s=2)
        summary = grade_study(session, study.id, embeddings=False, judge=cfg)
        assert summary.pending == 2
        g = session.exec(select(Grade).where(Grade.method == "judge")).first()
        assert g.correct is None and g.details["evidence"]["reason"].startswith("judge request failed")


@pytest.mark.parametrize(
    ("reply", "correct", "reason"),
    [
        ('{"verdict": "correct", "rationale": "same disease"}', True, None),
        ('Sure! {"verdict": "Incorrect", "rationale": "broader"} done', False, None),
        ('{"verdict": "maybe"}', None, "verdict 'maybe'"),
        ("I think it is correct", None, "no JSON object"),
        ("", None, "empty"),
    ],
)
def test_malformed_judge_replies_are_pending_with_reason(reply, correct, reason):
    got, _rationale, why = read_verdict(reply)
    assert got is correct
    assert (why is None) if reason is None else (reason in why)


def test_judge_setting_is_validated():
    assert study_judge_config({"grading": {"judge": {"model": "m", "max_tokens": 10}}}).max_tokens == 10
    assert study_judge_config({}) is None
    with pytest.raises(InputError, match="grading.judge.model"):
        JudgeConfig.parse({"base_url": "http://x"}, "study.toml")
    with pytest.raises(InputError, match="grading.judge.colour: unknown key"):
        JudgeConfig.parse({"model": "m", "colour": 1}, "study.toml")


STUDY = """
[study]
name = "judged"
case_set = "sandmann125"
template = "five_diagnoses"

[[models]]
name = "M"
backend = "openai"
model = "m"

[grading.judge]
model = "qwen"
base_url = "http://127.0.0.1:8000/v1"
max_tokens = 100
"""


def test_study_file_names_the_judge(sqlite_engine):
    from pipeline.generate._study import ensure_study, parse_study

    spec = parse_study(STUDY, "judged.toml")
    assert spec.grading["judge"]["model"] == "qwen"
    with Session(sqlite_engine) as session:
        study = ensure_study(session, spec, imports=False)
        cfg = study_judge_config(study.settings)
        assert cfg is not None and cfg.model == "qwen" and cfg.base_url == "http://127.0.0.1:8000/v1"
    with pytest.raises(InputError) as err:
        parse_study(STUDY.replace('model = "qwen"', "max_tokens = -1").replace("max_tokens = 100\n", ""), "s.toml")
    text = str(err.value)
    assert "s.toml: grading.judge.model" in text and "grading.judge.max_tokens" in text
    with pytest.raises(InputError, match="grading.colour: unknown key"):
        parse_study(STUDY + "\n[grading.colour]\nx = 1\n", "s.toml")


def _chat(content: str) -> str:
    import json

    return json.dumps({"id": "x", "object": "chat.completion", "model": "served-judge",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": content}}]})  # fmt: skip


def test_judge_over_http_stores_verdict_and_flags_malformed_replies(sqlite_engine, replay):
    """The same tier against a real HTTP server replaying an OpenAI-compatible server's replies."""
    replay.serve(
        Reply(body=_chat('{"verdict": "correct", "rationale": "pneumonia is not the gold"}')),
        Reply(body=_chat("The answer seems fine to me.")),
    )
    with Session(sqlite_engine) as session:
        study, _ = build(session, imported=False)
        cfg = JudgeConfig(model="judge-7b", base_url=replay.url, extra={"response_format": {"type": "json_object"}})
        summary = grade_study(session, study.id, embeddings=False, judge=cfg)
        assert summary.by_method["judge"] == 2
        graded = {
            g.details["evidence"]["verdict"]: g for g in session.exec(select(Grade).where(Grade.method == "judge"))
        }
        ok, bad = graded["correct"], graded[None]
        assert ok.correct is True and ok.status == "auto"
        ev = ok.details["evidence"]
        assert ev["judge_model"] == "served-judge" and ev["rationale"] == "pneumonia is not the gold"
        assert ev["prompt_version"] == "dxtrace-judge/1" and len(ev["prompt_hash"]) == 16
        assert bad.correct is None and bad.status == "pending"
        assert bad.details["evidence"]["reason"].startswith("malformed judge reply: no JSON object")
    assert len(replay.requests) == 2
    body = replay.requests[0]
    assert body["model"] == "judge-7b" and body["response_format"] == {"type": "json_object"}
    user = body["messages"][-1]["content"]
    assert user.startswith("Gold diagnosis: ") and "Answer:" in user
