"""A prompt longer than the model's context is refused at the start of generate, before anything is sent."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from db.models import Response, Run
from pipeline.errors import DxTraceError
from pipeline.generate import generate
from pipeline.generate._context import check_context, prompts_over_context
from tests.pipeline.generate.conftest import write_study


def test_pure_check_names_case_and_context():
    over = prompts_over_context("M", 10, [("short", "x" * 40), ("long", "x" * 41)])
    assert over == [
        "case 'long': the prompt is about 11 tokens (41 characters), over the context of model 'M' (10 tokens)"
    ]
    assert prompts_over_context("M", None, [("long", "x" * 10_000)]) == []  # unknown context: not checked
    with pytest.raises(DxTraceError, match="nothing was sent"):
        check_context(over)


def test_generate_refuses_before_sending_and_writes_nothing(engine, tmp_path):
    study = write_study(
        tmp_path, name="tiny-ctx", backend="llamacpp", cases=["S001", "S002"], extra="options = { n_ctx = 64 }\n"
    )
    with pytest.raises(DxTraceError) as err:
        generate(engine, study, progress=False)
    message = str(err.value)
    assert "case 'S001': the prompt is about" in message and "case 'S002'" in message
    assert "over the context of model 'M' (64 tokens)" in message
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Response)).one() == 0
        assert s.exec(select(func.count()).select_from(Run)).one() == 0
