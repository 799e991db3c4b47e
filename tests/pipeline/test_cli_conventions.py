"""Every subcommand follows the CLI's conventions. The parser is walked, so a subcommand added later is checked too:

- every flag and argument has help text, and --help shows the default of every flag that has one;
- the study is named with `--study`, never required (the only study is taken when there is one);
- output formats are chosen with `--format` (one spelling);
- long steps can switch their progress bar off with `--no-progress`;
- `python -m pipeline --help` imports none of the heavy libraries (its CPU time is in bench/cli_help.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from pipeline.cli import build_parser, main
from tests.conftest import REPO

# Steps that can take minutes on a real study: each shows a progress bar.
LONG = ("generate", "import-responses", "grade", "agreement", "embed", "cluster", "report", "export")
HEAVY = ("torch", "sentence_transformers", "llama_cpp", "streamlit", "plotly", "pandas", "scipy", "statsmodels",
         "sqlalchemy", "rich")  # fmt: skip


def _subparsers(parser: argparse.ArgumentParser, path: str = ""):
    """(command path, parser) for every subcommand, nested ones (users add, ...) included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{path} {name}".strip(), sub
                yield from _subparsers(sub, f"{path} {name}".strip())


def _arguments(parser: argparse.ArgumentParser):
    return [
        a
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction) and a.help is not argparse.SUPPRESS
    ]


COMMANDS = list(_subparsers(build_parser()))


def test_every_command_module_is_found():
    names = {path for path, _ in COMMANDS}
    for expected in ("init", "generate", "grade", "accuracy", "agreement", "report", "export", "users add"):
        assert expected in names, expected


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_flag_has_help_and_shows_its_default(path, parser):
    formatter = parser._get_formatter()
    for action in _arguments(parser):
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), f"{path} {name}: no help text"
        shown = formatter._expand_help(action)
        default = action.default
        trivial = default is None or isinstance(default, bool) or default == [] or not action.option_strings
        if not trivial:
            assert "default" in shown.lower(), f"{path} {name}: --help does not show its default {default!r}"
    parser.format_help()  # every help string formats (no stray % in a help text)


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_study_is_named_one_way(path, parser):
    for action in _arguments(parser):
        if action.dest == "study" or "--study" in action.option_strings:
            assert action.option_strings == ["--study"], f"{path}: the study is named with --study"
            assert not action.required, f"{path}: --study must be optional (the only study is the default)"
            assert "default" in parser._get_formatter()._expand_help(action).lower()


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_output_formats_are_spelled_format(path, parser):
    for action in _arguments(parser):
        spelled = [o for o in action.option_strings if "format" in o]
        if spelled or action.dest in ("format", "formats"):
            assert action.option_strings == ["--format"], f"{path}: {action.option_strings}: spell it --format"


@pytest.mark.parametrize("name", LONG)
def test_long_steps_have_a_progress_bar_switch(name):
    parser = dict(COMMANDS)[name]
    assert any(a.option_strings == ["--no-progress"] for a in _arguments(parser)), name


def test_top_level_help_imports_no_heavy_library():
    code = (
        "import json, sys\n"
        "from pipeline.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('MODULES', json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "import-responses" in out.stdout and "report" in out.stdout  # the commands are listed
    modules = set(json.loads(out.stdout.split("MODULES ", 1)[1]))
    loaded = sorted(m for m in HEAVY if m in modules)
    assert not loaded, f"`python -m pipeline --help` imports {loaded}"


def test_one_subcommand_imports_only_its_own_module():
    code = (
        "import json, sys\n"
        "from pipeline.cli import main\n"
        "try:\n    main(['users', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('MODULES', json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    modules = set(json.loads(out.stdout.split("MODULES ", 1)[1]))
    assert "pipeline.cli.users" in modules
    assert not {"pipeline.cli.accuracy", "pipeline.cli.cluster", "pipeline.cli.generate"} & modules
    assert not {"torch", "sentence_transformers", "llama_cpp", "plotly"} & modules


def test_unknown_command_and_bad_format_are_clear(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["nosuch"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["report", "--format", "html,pdf"])
    assert exc.value.code == 2 and "choose from html,md,paper" in capsys.readouterr().err


def test_help_lists_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["accuracy", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default exact" in text and "(default: csv,json,md,html)" in text and "(default: the only study)" in text
    with pytest.raises(SystemExit):
        main(["grade", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "counts as correct (default: 0.9)" in text and "(default: the only study in the database)" in text


def test_the_index_read_from_source_matches_the_registry():
    """The commands listed without importing their modules are exactly those the modules register."""
    from pipeline.cli import _COMMANDS, _index

    build_parser()  # imports every module: the registry is complete
    index = _index()
    assert set(index) == set(_COMMANDS)
    for name, entry in index.items():
        cmd = _COMMANDS[name]
        assert (entry.help, entry.order, entry.module) == (cmd.help, cmd.order, cmd.run.__module__), name
