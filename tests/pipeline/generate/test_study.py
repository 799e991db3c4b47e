"""Study files, prompt templates and case selection."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Case, Model, Study
from pipeline.errors import InputError
from pipeline.generate import (
    ensure_case_set,
    ensure_study,
    load_study_file,
    load_template,
    parse_study,
    select_cases,
    shipped_templates,
)
from tests.conftest import REPO


def test_published_study_reproduces_the_five_pairs():
    spec = load_study_file("published")
    pairs = {m.name: m.paired_with for m in spec.models if m.paired_with}
    assert pairs == {
        "DeepSeek-R1-671B": "DeepSeek-V3",
        "DeepSeek-R1-Distill-Llama-8B": "Llama-3.1-8B-Instruct",
        "DeepSeek-R1-Distill-Qwen-14B": "Qwen2.5-14B-Instruct",
        "DeepSeek-R1-Distill-Qwen-32B": "Qwen2.5-32B-Instruct",
        "DeepSeek-R1-Distill-Llama-70B": "Llama-3.3-70B-Instruct",
    }
    assert all(m.backend == "openai" and m.base_url for m in spec.models)
    assert all(m.sampling.temperature == 0.6 and m.sampling.top_p == 0.95 for m in spec.models)
    assert spec.where == {"cohort": "original_110"} and spec.template == "five_diagnoses"


def test_ensure_study_creates_models_with_pairs_and_is_idempotent(engine):
    spec = load_study_file("published")
    for _ in range(2):
        with session_scope(engine) as session:
            ensure_study(session, spec)
    with session_scope(engine) as session:
        study = session.exec(select(Study).where(Study.name == "published")).one()
        models = {m.name: m for m in session.exec(select(Model).where(Model.study_id == study.id))}
        assert len(models) == 10
        r1 = models["DeepSeek-R1-Distill-Llama-8B"]
        assert r1.is_reasoning and r1.paired_model_id == models["Llama-3.1-8B-Instruct"].id
        assert r1.params == {"temperature": 0.6, "top_p": 0.95, "max_tokens": 8192, "seed": 2025}
        assert models["Llama-3.1-8B-Instruct"].paired_model_id is None
        case_set = ensure_case_set(session, "sandmann125")
        cases = session.exec(select(Case).where(Case.case_set_id == case_set.id)).all()
        chosen = select_cases(list(cases), spec)
        assert [c.case_key for c in chosen] == [f"S{i:03d}" for i in range(1, 111)]


def test_demo_sample_is_seeded_and_stable(sqlite_engine):
    spec = load_study_file("demo")
    with session_scope(sqlite_engine) as session:
        case_set = ensure_case_set(session, "sandmann125")
        cases = list(session.exec(select(Case).where(Case.case_set_id == case_set.id)))
        first = [c.case_key for c in select_cases(cases, spec)]
        again = [c.case_key for c in select_cases(list(reversed(cases)), spec)]
        assert first == again and len(first) == 12 == len(set(first))
        assert [c.case_key for c in select_cases(cases, spec, limit=3)] == first[:3]


def test_bad_study_file_names_every_problem():
    text = """
[study]
name = "x"
case_set = "sandmann125"
repeats = 0
colour = "blue"

[[models]]
name = "A"
backend = "vllm"
temperature = "hot"
paired_with = "Nope"

[[models]]
name = "B"
backend = "openai"
max_tokens = 0
"""
    with pytest.raises(InputError) as err:
        parse_study(text, "s.toml")
    msg = str(err.value)
    for expected in (
        "s.toml: study.colour: unknown key",
        "s.toml: study.template: missing or empty",
        "s.toml: study.repeats: must be at least 1",
        "s.toml: models[1] (A).backend: 'vllm' is not one of import, llamacpp, openai",
        "s.toml: models[1] (A).temperature: must be a number, got 'hot'",
        "s.toml: models (A).paired_with: no model named 'Nope' in this file",
        "s.toml: models[2] (B).model: the served model id is required",
        "s.toml: models[2] (B).max_tokens: must be at least 1",
    ):
        assert expected in msg


def test_broken_toml_names_the_line():
    with pytest.raises(InputError, match=r"s.toml:3: not valid TOML \(column 12\): Invalid value"):
        parse_study('[study]\nname = "x"\ncase_set = \n', "s.toml")


def test_templates_are_versioned_and_render_the_case():
    assert shipped_templates() == {"five_diagnoses": ["1"], "pick_one": ["1"]}
    five = load_template("five_diagnoses")
    assert five.ref == "five_diagnoses@1" and five.task == "differential" and len(five.sha256) == 64
    (msg,) = five.render(vignette="  I have a stomach ache.  ")
    assert msg["role"] == "user" and msg["content"].startswith("I have a stomach ache.\n\n")
    assert "five preliminary diagnoses" in msg["content"]
    pick = load_template("pick_one@1")
    (msg,) = pick.render(vignette="CT: mass.", options=["Lipoma", "Liposarcoma"])
    assert "A. Lipoma\nB. Liposarcoma" in msg["content"] and pick.task == "multiple_choice"
    with pytest.raises(InputError, match="no version '9'"):
        load_template("five_diagnoses@9")
    with pytest.raises(InputError, match="no such prompt template"):
        load_template("nope")


def test_cli_study_and_generate_errors(tmp_path):
    db = str(tmp_path / "s.db")
    base = [sys.executable, "-m", "pipeline", "--db", db]
    wide = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run([*base, "study", "published"], cwd=REPO, capture_output=True, text=True, timeout=600, env=wide)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if "DeepSeek-R1-Distill-Qwen-14B" in line)
    assert "deepseek-r1:14b" in row and "yes" in row and "Qwen2.5-14B-Instruct" in row
    bad = tmp_path / "bad.toml"
    bad.write_text('[study]\nname = "b"\ncase_set = "sandmann125"\ntemplate = "five_diagnoses"\n', encoding="utf-8")
    out = subprocess.run(
        [*base, "generate", "--study", str(bad)], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 2 and f"error: {bad}: models: add at least one [[models]] entry" in out.stderr
    out = subprocess.run(
        [*base, "generate", "--study", "nosuch"], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 2 and "no study 'nosuch'" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run(
        [*base, "generate", "--study", "published", "--limit", "0"], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 2 and "--limit must be at least 1" in out.stderr
