"""Bad study files and flags: each is refused with `error: file: field: message`, exit 2, and nothing written."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from db.engine import make_engine
from db.migrate import upgrade
from pipeline.cli import main
from tests.pipeline.generate.conftest import Reply

GOOD_STUDY = """\
[study]
name = "bad-input"
case_set = "sandmann125"
template = "five_diagnoses"
cases = ["S001", "S002"]

[[models]]
name = "A"
backend = "openai"
model = "m"
base_url = "http://127.0.0.1:9/v1"
"""


def _edit(old: str, new: str) -> str:
    assert old in GOOD_STUDY
    return GOOD_STUDY.replace(old, new, 1)


# (label, study file text, extra CLI arguments after the file, a text the error must contain)
STUDY_FILES = [
    ("unknown case set", _edit('"sandmann125"', '"no-such-set"'), [], "case set 'no-such-set' is not in the database"),
    ("negative k", _edit('cases = ["S001", "S002"]', 'cases = ["S001"]\nk = -1'), [], "study.k: must be at least 1"),
    ("k as words", _edit('cases = ["S001", "S002"]', 'cases = ["S001"]\nk = "five"'), [], "study.k: must be a whole"),
    ("seed as words", _edit("cases = [", 'sample_seed = "abc"\ncases = ['), [], "study.sample_seed: must be a whole"),
    ("reasoning no", GOOD_STUDY + 'reasoning = "no"\n', [], "models[1] (A).reasoning: must be true or false"),
    ("negative timeout", GOOD_STUDY + "timeout = -5\n", [], "models[1] (A).timeout: must be more than 0"),
    ("negative retries", GOOD_STUDY + "max_retries = -1\n", [], "models[1] (A).max_retries: must be at least 0"),
    ("numeric base_url", _edit('"http://127.0.0.1:9/v1"', "12345"), [], "models[1] (A).base_url: must be a text"),
    ("base_url no scheme", _edit('"http://127.0.0.1:9/v1"', '"localhost:8000"'), [], "base_url: must be an http"),
    ("stop as number", GOOD_STUDY + "stop = 5\n", [], "models[1] (A).stop: must be"),
    ("unknown section", GOOD_STUDY + "[extras]\na = 1\n", [], "extras: unknown section"),
    ("unknown study key", _edit("cases = [", 'colour = "blue"\ncases = ['), [], "study.colour: unknown key"),
    ("unknown defaults key", GOOD_STUDY + "[defaults]\ntemprature = 0.5\n", [], "defaults.temprature: unknown key"),
    ("unknown import key", GOOD_STUDY + '[[imports]]\nsource = "x"\nmaping = "y"\n', [], "imports[1].maping: unknown"),
    ("temperature text", GOOD_STUDY + 'temperature = "hot"\n', [], "(A).temperature: must be a number, got 'hot'"),
    ("unknown case id", _edit('"S002"', '"NOPE-1"'), [], "case(s) NOPE-1 not in case set 'sandmann125'"),
    ("empty name", _edit('name = "bad-input"', 'name = "  "'), [], "study.name: missing or empty"),
    ("bad env name", GOOD_STUDY + 'api_key_env = "sk-live 123"\n', [], "api_key_env: must be the name of"),
]


def _count_studies(db: str) -> int:
    """Studies in the database (0 when the file was never even made into a study database)."""
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
        return conn.execute("select count(*) from study").fetchone()[0] if "study" in tables else 0


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("command", ["study", "generate"])
@pytest.mark.parametrize(("label", "body", "extra", "expected"), STUDY_FILES, ids=[s[0] for s in STUDY_FILES])
def test_bad_study_file_is_refused_with_nothing_written(tmp_path, capsys, command, label, body, extra, expected):
    db = str(tmp_path / "s.db")
    study = tmp_path / "study.toml"
    study.write_text(body, encoding="utf-8")
    code, err = _run(capsys, "--db", db, command, *(["--study"] if command == "generate" else []), str(study), *extra)
    assert code == 2, err
    assert expected in err, err
    assert err.startswith("error: ") and "Traceback" not in err and "internal error" not in err
    assert _count_studies(db) == 0  # no partial write


def test_every_problem_is_named_at_once(tmp_path, capsys):
    study = tmp_path / "study.toml"
    study.write_text(GOOD_STUDY.replace("cases = [", 'k = "five"\ncases = [') + 'reasoning = "no"\ntimeout = -1\n')
    code, err = _run(capsys, "--db", str(tmp_path / "s.db"), "study", str(study))
    assert code == 2
    lines = err.splitlines()
    assert lines[0].startswith(f"error: {study}: ")
    assert sum(str(study) in line for line in lines) == 3


def test_generate_refusals_leave_nothing_behind(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "s.db")
    study = tmp_path / "study.toml"
    study.write_text(GOOD_STUDY, encoding="utf-8")
    code, err = _run(capsys, "--db", db, "generate", "--study", str(study), "--model", "Nope")
    assert code == 2 and "has no model(s) Nope" in err
    assert _count_studies(db) == 0
    monkeypatch.delenv("DX_TEST_UNSET_KEY", raising=False)
    study.write_text(GOOD_STUDY + 'api_key_env = "DX_TEST_UNSET_KEY"\n', encoding="utf-8")
    code, err = _run(capsys, "--db", db, "generate", "--study", str(study))
    assert code == 2 and "DX_TEST_UNSET_KEY (api_key_env) is not set" in err
    assert _count_studies(db) == 0


def test_db_flag_on_a_file_that_is_not_a_database(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("these are my notes, not a database\n" * 50, encoding="utf-8")
    code, err = _run(capsys, "--db", str(notes), "users", "list")
    assert code == 2 and "is it a DxTrace database?" in err and "internal error" not in err
    assert notes.read_text(encoding="utf-8").startswith("these are my notes")


def test_database_written_by_a_newer_dxtrace(tmp_path, capsys):
    db = tmp_path / "s.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = 'f00dfeed9999'"))
    engine.dispose()
    code, err = _run(capsys, "--db", str(db), "users", "list")
    assert code == 2 and "written by a newer DxTrace" in err and "upgrade DxTrace" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["generate", "--study", "demo", "--limit", "0"], "--limit must be at least 1"),
        (["generate", "--study", "demo", "--concurrency", "-2"], "--concurrency must be at least 1"),
        (["generate", "--study", "demo", "--timeout", "0"], "--timeout must be positive"),
        (["generate", "--study", "demo", "--retries", "-1"], "--retries must be 0 or more"),
    ],
)
def test_bad_flags(tmp_path, capsys, argv, expected):
    code, err = _run(capsys, "--db", str(tmp_path / "s.db"), *argv)
    assert code == 2 and expected in err


def test_generate_prints_the_first_causes_of_failed_requests(tmp_path, capsys, replay):
    replay.serve(Reply(status=401, body='{"error": {"message": "invalid api key"}}'))
    study = tmp_path / "study.toml"
    study.write_text(_edit('"http://127.0.0.1:9/v1"', f'"{replay.url}"'), encoding="utf-8")
    code, err = _run(capsys, "--db", str(tmp_path / "s.db"), "generate", "--study", str(study), "--no-progress")
    assert code == 1
    assert "2 request(s) failed" in err
    assert "A: " in err and "answered HTTP 401: invalid api key (2x)" in err
