"""The CLI as a research lead uses it: help everywhere, tables, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.cli import _COMMANDS, build_parser
from tests.conftest import REPO


def cli(*args: str, db: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pipeline", *(["--db", db] if db else []), *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_every_subcommand_has_help():
    build_parser()
    assert {"init", "import-cases", "cases"} <= set(_COMMANDS)
    for name in _COMMANDS:
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args([name, "--help"])
        assert exit_.value.code == 0


def test_import_and_summarise(db_url):
    out = cli("import-cases", "sandmann125", db=db_url)
    assert out.returncode == 0, out.stderr
    assert "125 added" in out.stdout
    out = cli("cases", db=db_url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any("Internal Medicine" in line and "31" in line for line in lines)
    total = next(line for line in lines if "Total" in line and "42" in line)
    assert "44" in total and "39" in total and "125" in total


def test_bad_file_is_one_message_without_traceback(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"case_id": "1", "vignette": "v"}\n', encoding="utf-8")
    out = cli("import-cases", str(bad), db=str(tmp_path / "s.db"))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"error: {bad}: gold_diagnosis: column 'gold_diagnosis' is not in the file; its columns: case_id, vignette"
    )
    assert "Traceback" not in out.stderr


def test_bad_flag_values_are_named(tmp_path):
    out = cli("import-cases", "sandmann125", "--map", "nonsense", db=str(tmp_path / "s.db"))
    assert out.returncode == 2 and "--map 'nonsense': expected FIELD=COLUMN" in out.stderr
    out = cli("import-cases", "no-such-set", db=str(tmp_path / "s.db"))
    assert out.returncode == 2 and "no-such-set: no such file, folder or shipped case set" in out.stderr
    out = cli("cases", db=str(tmp_path / "s.db"))
    assert out.returncode == 2 and "no case sets in the database" in out.stderr
