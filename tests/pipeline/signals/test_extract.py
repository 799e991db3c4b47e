"""Red flags extracted by a study model (OpenAI-compatible): replies are checked, quotes must be in the case."""

from __future__ import annotations

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Case, CaseRedFlags, ErrorSignal, Model
from pipeline.errors import DxTraceError
from pipeline.local_models import serve_gguf
from pipeline.signals import compute_study_signals
from pipeline.signals._extract import extract_study_redflags, parse_extraction
from tests.factories import add_medrbench_r1, add_model, make_study

VIGNETTE = "A 70-year-old man with haemoptysis and weight loss. No fever."


def test_reply_is_checked_and_nothing_unquoted_passes():
    reply = (
        'Here: [{"name": "Haemoptysis", "quote": "haemoptysis"}, {"name": "Fever", "quote": "high fever"}, '
        '{"name": "Weight loss", "quote": "weight loss"}, "junk", {"name": "Dup", "quote": "haemoptysis"}]'
    )
    out = parse_extraction(reply, VIGNETTE)
    assert out.flags == [
        {"name": "Haemoptysis", "quote": "haemoptysis"},
        {"name": "Weight loss", "quote": "weight loss"},
    ]
    reasons = [r["reason"] for r in out.rejected]
    assert reasons == ["the quote is not in the case", "needs a name and a quote"]
    assert parse_extraction("I cannot help.", VIGNETTE).rejected[0]["reason"] == "no JSON list in the reply"
    assert parse_extraction("[{oops", VIGNETTE).flags == []
    assert "not valid JSON" in parse_extraction("[{oops]", VIGNETTE).rejected[0]["reason"]
    assert (
        parse_extraction("[]", VIGNETTE) == parse_extraction("[]", VIGNETTE)
        and not parse_extraction("[]", VIGNETTE).flags
    )


def test_extraction_by_a_real_openai_compatible_server_is_recorded_as_such(sqlite_engine, st_model):
    with session_scope(sqlite_engine) as s:
        study = make_study(s, "extract")
        add_medrbench_r1(s, study, limit=2)
        local = add_model(s, study, "Local", backend="llamacpp")
        study_id = study.id
    with session_scope(sqlite_engine) as s, pytest.raises(DxTraceError, match="OpenAI-compatible"):
        extract_study_redflags(s, study_id, local.name)
    with serve_gguf(threads=2) as url:
        with session_scope(sqlite_engine) as s:
            s.add(Model(study_id=study_id, name="Smol", backend="openai", model_id="smollm2", base_url=url))
        with session_scope(sqlite_engine) as s:
            counts = extract_study_redflags(s, study_id, "Smol", max_tokens=96)
    assert counts["extracted"] == 2
    with session_scope(sqlite_engine) as s:
        rows = s.exec(select(CaseRedFlags)).all()
        assert {r.extractor for r in rows} == {"model:Smol"}
        for r in rows:
            vignette = s.get(Case, r.case_id).vignette
            assert all(f["quote"] in vignette for f in r.flags)
            assert isinstance(r.rejected, list)
    summary = compute_study_signals(
        sqlite_engine, study_id, signals=["red_flags_ignored"], redflags_from="model:Smol", embedding_model=st_model
    )
    assert summary.redflag_source == "model:Smol" and summary.computed == 2
    with session_scope(sqlite_engine) as s:
        for sig in s.exec(select(ErrorSignal)).all():
            assert set(sig.details["sources"]) <= {"model:Smol"}  # never the list's flags


def test_using_a_model_that_never_extracted_is_refused(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        add_medrbench_r1(s, make_study(s, "none"), limit=1)
    with pytest.raises(DxTraceError, match="no red flags extracted by model:Nobody"):
        compute_study_signals(sqlite_engine, "none", redflags_from="model:Nobody")
