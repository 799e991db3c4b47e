"""The app under Streamlit's AppTest, on a study of the real DeepSeek-R1 traces."""

from __future__ import annotations

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from db.engine import session_scope
from db.models import Annotation, Annotator
from pipeline.annotation import annotator_queue, assign
from tests._browser import ARGS, CHROMIUM
from tests.pipeline.annotation.conftest import PASSWORD, World, build_world


def _script(slug):
    from annotator._shell import main

    main(default_slug=slug)


def url_of(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def make_app(monkeypatch):
    """make_app(engine, slug=None): the whole app (sign-in, study, navigation) opened on page `slug`."""

    def make(engine, slug: str | None = None) -> AppTest:
        monkeypatch.setenv("DXTRACE_DB", url_of(engine))
        return AppTest.from_function(_script, kwargs={"slug": slug}, default_timeout=90)

    return make


def sign_in(at: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    at.run()
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def assigned_world(engine, **study_settings) -> World:
    w = build_world(engine, n_annotators=2, **study_settings)
    with session_scope(engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect, annotator_ids=[w.people["ann1"], w.people["ann2"]])
    return w


def first_item(engine, w: World, who: str = "ann1") -> int:
    with session_scope(engine) as s:
        return annotator_queue(s, w.study_id, w.people[who])[0].response_id


def annotations_of(engine, username: str) -> list[Annotation]:
    with session_scope(engine) as s:
        person = s.exec(select(Annotator).where(Annotator.username == username)).one()
        return list(s.exec(select(Annotation).where(Annotation.annotator_id == person.id).order_by(Annotation.id)))


def all_text(at: AppTest) -> str:
    """Every string the page shows (element values, labels, captions), for blinding checks."""
    out = []
    for node in at.main.children.values() if hasattr(at.main, "children") else []:
        out.append(repr(node))
    return "\n".join(out)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, once per test module (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
