"""`python -m pipeline users` and `assign` as a research lead runs them."""

from __future__ import annotations

import subprocess
import sys

from sqlmodel import select

from db.engine import make_engine, session_scope
from db.models import Annotator, Assignment
from pipeline.annotation import authenticate
from tests.conftest import REPO
from tests.pipeline.annotation.conftest import build_world


def cli(*args: str, db: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pipeline", "--db", db, *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, input=stdin, timeout=300)


def test_users_add_list_passwd_deactivate(db_url):
    out = cli("users", "add", "dr.ada", "--role", "lead", "--name", "Ada L.", "--password-stdin", db=db_url,
              stdin="a long passphrase\n")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "added lead dr.ada" in out.stdout
    out = cli("users", "add", "dr.ada", "--password-stdin", db=db_url, stdin="another long one\n")
    assert out.returncode == 2 and out.stderr.strip() == "error: account 'dr.ada' already exists"
    out = cli("users", "add", "dr.bo", "--password-stdin", db=db_url, stdin="short\n")
    assert out.returncode == 2 and "password: must have at least 10 characters" in out.stderr
    assert "Traceback" not in out.stderr
    out = cli("users", "add", "dr.bo", db=db_url, stdin="")  # no terminal, no --password-stdin
    assert out.returncode == 2 and "--password-stdin" in out.stderr
    out = cli("users", "passwd", "dr.ada", "--password-stdin", db=db_url, stdin="a newer passphrase\n")
    assert out.returncode == 0, out.stderr
    out = cli("users", "deactivate", "dr.ada", db=db_url)
    assert out.returncode == 0, out.stderr
    out = cli("users", "list", db=db_url)
    assert out.returncode == 0 and "dr.ada" in out.stdout and "Ada L." in out.stdout
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        person = s.exec(select(Annotator)).one()
        assert not person.active and person.password_hash.startswith("$argon2id$")
        assert "passphrase" not in person.password_hash
        person.active = True
        s.add(person)
    with session_scope(engine) as s:
        assert authenticate(s, "dr.ada", "a newer passphrase") is not None
    engine.dispose()


def test_assign_from_the_cli(sqlite_engine, tmp_path):
    w = build_world(sqlite_engine, n_annotators=3)
    db = sqlite_engine.url.render_as_string(hide_password=False)
    out = cli("assign", "--study", "test-study", "--annotators", "ann1,ann2,ann3", "--extra-share", "0.2", db=db)
    assert out.returncode == 0, out.stderr
    assert "74 item(s): 163 assignment(s) added" in out.stdout  # 74 x 2 + 15 x 1 extra
    with session_scope(sqlite_engine) as s:
        assert {a.response_id for a in s.exec(select(Assignment))} == set(w.incorrect)
    ids = tmp_path / "ids.txt"
    ids.write_text("1, 2\n3-4  # first ones\nfive\n")
    out = cli("assign", "--study", "test-study", "--annotators", "ann1", "--ids-file", str(ids), db=db)
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {ids}:3: response ids: not a response id or range: 'five'"
    out = cli("assign", "--study", "nope", "--annotators", "ann1", db=db)
    assert out.returncode == 2 and "no study 'nope' (studies: test-study)" in out.stderr
    out = cli("assign", "--study", "test-study", "--annotators", "ann1", "--per-item", "2", "--ids", "1-3", db=db)
    assert out.returncode == 2 and "per_item: 2 annotators per item, but only 1 annotator(s) chosen" in out.stderr


def test_assign_cli_leaves_out_answer_only_unless_asked(sqlite_engine):
    from tests.pipeline.annotation.test_selection import strip_traces

    w = build_world(sqlite_engine, n_annotators=2)
    strip_traces(sqlite_engine, w.incorrect[:4])
    db = sqlite_engine.url.render_as_string(hide_password=False)
    out = cli("assign", "--study", "test-study", "--annotators", "ann1,ann2", "--per-item", "1", db=db)
    assert out.returncode == 0, out.stderr
    assert "70 item(s)" in out.stdout and "4 left out: answer only, no reasoning trace" in out.stdout
    with session_scope(sqlite_engine) as s:
        assert {a.response_id for a in s.exec(select(Assignment))} == set(w.incorrect[4:])
    out = cli(
        "assign", "--study", "test-study", "--annotators", "ann1", "--per-item", "1", "--include-answer-only", db=db
    )
    assert out.returncode == 0, out.stderr
    with session_scope(sqlite_engine) as s:
        assert {a.response_id for a in s.exec(select(Assignment))} == set(w.incorrect)
    out = cli("assign", "--study", "test-study", "--annotators", "ann1", "--ids", "1", "--include-answer-only", db=db)
    assert out.returncode == 2
    assert (
        out.stderr.strip()
        == "error: command line: --include-answer-only: only applies to the default choice (no --ids)"
    )
