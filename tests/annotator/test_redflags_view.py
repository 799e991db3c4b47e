"""The lead's red-flag page: the active list with sources, and loading a new version (or refusing it whole)."""

from __future__ import annotations

import pytest

from annotator.registry import views_for
from annotator.views.redflags import load_new_version
from db.engine import session_scope
from pipeline.errors import InputError
from pipeline.signals import active_redflags
from tests.annotator.conftest import sign_in
from tests.pipeline.annotation.conftest import build_world

NEW = """version = "2"
[[red_flag]]
id = "haemoptysis"
name = "Haemoptysis"
terms = ["hemoptysis"]
source = "NICE NG12 Suspected cancer: recognition and referral"
"""


def test_page_is_for_leads_and_shows_sources(sqlite_engine, make_app):
    assert "redflags" in {v.slug for v in views_for("lead")}
    assert "redflags" not in {v.slug for v in views_for("annotator")}
    build_world(sqlite_engine, n_annotators=1, limit=2)
    at = sign_in(make_app(sqlite_engine, "redflags"), "lead")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert "thunderclap_headache" in set(table["id"]) and table["source"].str.len().min() > 10


def test_loading_a_version_makes_it_active_and_a_bad_one_changes_nothing(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        assert active_redflags(s).version == "1"
    with pytest.raises(InputError, match="red_flag"):
        load_new_version(sqlite_engine, 'version = "3"\n', "v3.toml")
    with session_scope(sqlite_engine) as s:
        assert active_redflags(s).version == "1"
    assert "version 2 loaded" in load_new_version(sqlite_engine, NEW, "v2.toml")
    with session_scope(sqlite_engine) as s:
        assert active_redflags(s).version == "2"
    from pipeline.signals import load_redflags, load_shipped

    with session_scope(sqlite_engine) as s:  # loading version 1 again makes it active again
        load_redflags(s, load_shipped("1"))
    with session_scope(sqlite_engine) as s:
        assert active_redflags(s).version == "1"
