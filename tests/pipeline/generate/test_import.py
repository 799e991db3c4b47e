"""Importing responses produced elsewhere: the shipped sets, bad rows, idempotency, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from sqlmodel import func, select

from db.engine import session_scope
from db.models import Grade, Model, Response, Run, Study
from pipeline.errors import InputError
from pipeline.generate import (
    import_responses,
    load_response_mapping,
    parse_response_mapping,
    resolve_response_source,
)
from tests.conftest import REPO
from tests.factories import SANDMANN_OUTPUTS


def _study(session, name="s") -> Study:
    study = Study(name=name)
    session.add(study)
    session.flush()
    return study


def _shipped(session, study, name):
    path, mapping = resolve_response_source(name)
    return import_responses(session, study=study, path=path, mapping=load_response_mapping(mapping))


def test_both_shipped_response_sets_load(engine):
    with session_scope(engine) as session:
        study = _study(session)
        sandmann = _shipped(session, study, "sandmann125")
        medr = _shipped(session, study, "medrbench")
    assert (sandmann.added, medr.added) == (720, 400)
    assert sandmann.by_model == Counter(
        {"GPT-4o": 125, "Gem2FTE": 125, "DeepSeek-R1": 125, "DeepSeek-V3": 125, "GPT-3.5": 110, "GPT-4": 110}
    )
    assert medr.by_model == Counter({"DeepSeek-R1": 400})
    assert medr.grades == 400 and sandmann.grades == 0
    with session_scope(engine) as session:
        study = session.exec(select(Study).where(Study.name == "s")).one()
        models = {m.name: m for m in session.exec(select(Model).where(Model.study_id == study.id))}
        # DeepSeek-R1 is one model with a run on each case set, paired with its base model.
        assert models["DeepSeek-R1"].is_reasoning and models["DeepSeek-R1"].paired_model_id == models["DeepSeek-V3"].id
        assert len(session.exec(select(Run).where(Run.model_id == models["DeepSeek-R1"].id)).all()) == 2
        assert session.exec(select(func.count()).select_from(Response)).one() == 1120
        # MedR-Bench: trace and answer separate, the judged accuracy as an imported grade.
        r1 = session.exec(
            select(Response).join(Run).where(Run.model_id == models["DeepSeek-R1"].id, Response.trace.is_not(None))
        ).all()
        assert len(r1) == 400
        sample = r1[0]
        # The thinking field, then the answer's own <step n> reasoning; the answer is the "### Answer:" section.
        assert sample.trace.startswith("Okay") and "<step 1>" in sample.trace and "### Answer" not in sample.answer
        assert sample.answer and sample.answer in sample.raw_output and sample.answer_shape == "single"
        assert {r.parse_reader for r in r1} == {"reasoning_field+step_tagged"}
        assert all(r.answer in r.raw_output for r in r1)
        # One answer ends with an empty "### Answer:": flagged, its diagnosis read from the reasoning.
        empty = [r for r in r1 if not r.answer]
        assert len(empty) == 1 and not empty[0].parse_ok and "reasoning" in empty[0].parse_error
        grades = session.exec(select(Grade)).all()
        assert Counter(g.correct for g in grades) == Counter({True: 326, False: 74})
        assert {g.method for g in grades} == {"imported"} and {g.grader for g in grades} == {"medrbench-gpt-judge"}


def test_sandmann_parse_failures_are_flagged_never_dropped(sqlite_engine):
    with session_scope(sqlite_engine) as session:
        _shipped(session, _study(session), "sandmann125")
    source = {
        (r["model"], r["case_id"]): r["output"]
        for r in map(json.loads, SANDMANN_OUTPUTS.read_text(encoding="utf-8").splitlines())
    }
    with session_scope(sqlite_engine) as session:
        rows = session.exec(select(Response)).all()
        assert len(rows) == 720
        failed = [r for r in rows if not r.parse_ok]
        assert len(failed) == 5
        assert all(r.parse_error == "no diagnosis found in the answer" and r.diagnoses == [] for r in failed)
        # Answer-only text: no trace is invented, the reader says so.
        assert {r.parse_reader for r in rows} == {"plain"} and all(r.trace is None for r in rows)
        assert all(r.raw_output for r in failed)
        assert Counter(len(r.diagnoses) for r in rows)[5] >= 710
        # Raw text kept verbatim, with the clinicians' Likert score and the file line it came from.
        assert all(r.extra["human_likert_1to5"] for r in rows)
        by_line = {r.extra["source_line"]: r for r in rows}
        lines = SANDMANN_OUTPUTS.read_text(encoding="utf-8").splitlines()
        for n in (1, 360, 720):
            assert by_line[n].raw_output == json.loads(lines[n - 1])["output"]
        assert sorted(r.raw_output for r in rows) == sorted(source.values())


def test_reimport_adds_nothing(sqlite_engine):
    with session_scope(sqlite_engine) as session:
        study = _study(session)
        _shipped(session, study, "medrbench")
    with session_scope(sqlite_engine) as session:
        study = session.exec(select(Study)).one()
        again = _shipped(session, study, "medrbench")
    assert again.added == 0 and again.already_present == 400 and again.grades == 0
    with session_scope(sqlite_engine) as session:
        assert session.exec(select(func.count()).select_from(Response)).one() == 400
        assert session.exec(select(func.count()).select_from(Grade)).one() == 400


MAPPING = """
[responses]
case_set = "sandmann125"
[fields]
case_id = "case"
model = "model"
output = "text"
correct = "ok"
"""


def test_bad_rows_are_named_by_file_line_field_and_nothing_is_written(engine, tmp_path):
    path = tmp_path / "answers.jsonl"
    rows = [
        {"case": "S001", "model": "M", "text": "1. Diverticulitis", "ok": "yes"},
        {"case": "S999", "model": "M", "text": "1. Gout", "ok": True},
        {"case": "S002", "model": "M", "ok": False},
        "not json",
        {"case": "S003", "model": "M", "text": "x", "ok": "maybe"},
        {"case": "S001", "model": "M", "text": "again", "ok": "no"},
    ]
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    mapping = parse_response_mapping(MAPPING, "mapping.toml")
    with pytest.raises(InputError) as err, session_scope(engine) as session:
        import_responses(session, study=_study(session), path=path, mapping=mapping)
    msg = str(err.value)
    assert f"{path}:2: case_id (column 'case'): no case 'S999' in case set 'sandmann125'" in msg
    assert f"{path}:3: output (column 'text'): missing" in msg
    assert f"{path}:4: broken JSON" in msg
    assert f"{path}:5: correct (column 'ok'): 'maybe' is not true/false" in msg
    assert f"{path}:6: duplicate response of 'M' on case 'S001' (first on line 1)" in msg
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(Response)).one() == 0
        assert session.exec(select(func.count()).select_from(Study)).one() == 0


def test_csv_import_with_an_empty_answer_kept_and_flagged(sqlite_engine, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text(
        'case,model,text,ok\nS001,M,"<think>LLQ pain</think>1. Diverticulitis\n2. Colitis",true\nS002,M,,false\n',
        encoding="utf-8",
    )
    mapping = parse_response_mapping(MAPPING, "mapping.toml")
    with session_scope(sqlite_engine) as session:
        report = import_responses(session, study=_study(session), path=path, mapping=mapping)
    assert report.added == 2 and report.parse_failures == 1 and report.grades == 2
    with session_scope(sqlite_engine) as session:
        rows = {r.extra["source_line"]: r for r in session.exec(select(Response))}
        assert rows[2].trace == "LLQ pain" and rows[2].diagnoses == ["Diverticulitis", "Colitis"]
        assert rows[2].parse_reader == "think_tags" and rows[2].answer_shape == "list"
        assert rows[2].raw_output.startswith("<think>")
        assert rows[4].raw_output == "" and not rows[4].parse_ok and rows[4].parse_error == "the answer is empty"


def test_bad_mapping_names_each_field():
    with pytest.raises(InputError) as err:
        parse_response_mapping('[fields]\nanswr = "x"\n[models]\nM = { reasoning = "yes" }\n', "m.toml")
    msg = str(err.value)
    assert "m.toml: fields.answr: unknown field" in msg
    assert "m.toml: models.M.reasoning: must be true or false" in msg
    # Which fields are required depends on the file (a tool's log brings its own): checked at import.


def test_cli_import_responses(tmp_path):
    db = str(tmp_path / "cli.db")
    cmd = [sys.executable, "-m", "pipeline", "--db", db, "import-responses"]
    out = subprocess.run([*cmd, "sandmann125", "--study", "pub"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "720 responses added" in out.stdout and "5 diagnoses: 711" in out.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "S001", "out": "x"}\n{"id": "nope", "out": "y"}\n', encoding="utf-8")
    out = subprocess.run(
        [
            *cmd,
            str(bad),
            "--study",
            "pub",
            "--map",
            "case_id=id",
            "--map",
            "output=out",
            "--model",
            "X",
            "--case-set",
            "sandmann125",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 2
    assert f"error: {bad}:2: case_id (column 'id'): no case 'nope'" in out.stderr
    assert "Traceback" not in out.stderr


def test_import_records_each_format_reader_and_the_trace(engine, tmp_path):
    """Outputs of several reasoning-model formats in one file: each gets its trace, its reader, its shape."""
    outputs = {
        "S001": "<think>\nLLQ pain and fever.\n</think>\n\n1. Diverticulitis\n2. Colitis",
        "S002": "Let me think. Chest pain radiating to the back, unequal pulses.\n\n**Final Answer**\n\n"
        "Stanford type A aortic dissection with pericardial effusion",
        "S003": "<step 1> Fever and a new murmur.\n<step 2> Blood cultures grow S. aureus.\n\n### Answer:\n"
        "Infective endocarditis",
        "S004": "> **Reasoning**\n> **Assessing the rash**\n> Target lesions after a new drug.\n\n"
        "The most likely diagnosis is erythema multiforme.",
        "S005": "Reasoning about it at length, but the output was cut before the answer.\n\n### Answer:",
    }
    path = tmp_path / "formats.jsonl"
    path.write_text(
        "\n".join(json.dumps({"case": c, "model": "M", "text": t, "ok": None}) for c, t in outputs.items()) + "\n",
        encoding="utf-8",
    )
    with session_scope(engine) as session:
        report = import_responses(
            session, study=_study(session), path=path, mapping=parse_response_mapping(MAPPING, "mapping.toml")
        )
    assert report.added == 5 and report.parse_failures == 1
    with session_scope(engine) as session:
        rows = {r.extra["source_line"]: r for r in session.exec(select(Response))}
        got = {n: (r.parse_reader, r.answer_shape, r.diagnoses, r.parse_ok) for n, r in rows.items()}
        assert got == {
            1: ("think_tags", "list", ["Diverticulitis", "Colitis"], True),
            2: (
                "answer_section",
                "single",
                ["Stanford type A aortic dissection with pericardial effusion"],
                True,
            ),
            3: ("step_tagged", "single", ["Infective endocarditis"], True),
            4: ("reasoning_summary", "single", ["erythema multiforme"], True),
            5: ("answer_section", None, [], False),
        }
        for r in rows.values():
            assert r.trace and r.answer in r.raw_output
        assert rows[5].parse_error == "the answer section is empty" and rows[5].answer == ""
