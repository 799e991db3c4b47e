"""`python -m pipeline signals` and `redflags` as a lead runs them: tables, one-line errors, exit 2."""

from __future__ import annotations

from db.engine import make_engine, session_scope
from db.migrate import upgrade
from tests.factories import add_medrbench_r1, make_study
from tests.pipeline.test_cli import cli

GOOD = """version = "9"
title = "Test list"
[[red_flag]]
id = "haemoptysis"
name = "Haemoptysis"
terms = ["hemoptysis", "coughing up blood"]
source = "NICE NG12 Suspected cancer: recognition and referral"
"""


def _db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as s:
        add_medrbench_r1(s, make_study(s, "cli"), limit=3)
    engine.dispose()
    return url


def test_signals_twice_second_run_changes_nothing(tmp_path):
    db = _db(tmp_path)
    args = ["signals", "--study", "cli", "--signal", "gold_dropped", "--signal", "repetition_loop", "--no-progress"]
    out = cli(*args, db=db)
    assert out.returncode == 0, out.stderr
    assert "3 computed" in out.stdout and "gold_dropped" in out.stdout
    out = cli(*args, "--validate", db=db)
    assert out.returncode == 0, out.stderr
    assert "0 computed, 3 unchanged" in out.stdout
    assert "not enough labels" in out.stdout


def test_bad_flags_and_files_are_one_line_exit_2(tmp_path):
    db = _db(tmp_path)
    out = cli("signals", "--study", "cli", "--k", "0", db=db)
    assert out.returncode == 2 and "must be at least 1" in out.stderr
    out = cli("signals", "--study", "cli", "--red-flags-from", "Nobody", "--no-progress", db=db)
    assert out.returncode == 2 and out.stderr.startswith("error: no red flags extracted by model:Nobody")
    bad = tmp_path / "v2.toml"
    bad.write_text('version = "2"\n[[red_flag]]\nid = "x"\nname = "X"\nterms = ["x"]\n', encoding="utf-8")
    out = cli("redflags", "load", str(bad), db=db)
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {bad}: red_flag[1].source: must be a non-empty string"
    assert "Traceback" not in out.stderr


def test_load_a_new_version_makes_it_active(tmp_path):
    db = _db(tmp_path)
    out = cli("redflags", "show", db=db)
    assert out.returncode == 0 and "version 1" in out.stdout and "SNOOP4" in out.stdout
    new = tmp_path / "v9.toml"
    new.write_text(GOOD, encoding="utf-8")
    out = cli("redflags", "load", str(new), db=db)
    assert out.returncode == 0, out.stderr
    out = cli("redflags", "show", db=db)
    assert "version 9" in out.stdout and "haemoptysis" in out.stdout and "thunderclap" not in out.stdout
    changed = tmp_path / "v9b.toml"
    changed.write_text(GOOD.replace("Haemoptysis", "Blood"), encoding="utf-8")
    out = cli("redflags", "load", str(changed), db=db)
    assert out.returncode == 2 and "already loaded with different entries" in out.stderr
