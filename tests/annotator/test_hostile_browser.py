"""Hostile text in every field that comes from data, on every page for both roles and in report.md, in Debian's
chromium: nothing runs, nothing is fetched, no request leaves 127.0.0.1."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from markdown_it import MarkdownIt
from playwright.sync_api import expect
from sqlmodel import select

from annotator.serve import serve_app
from db.engine import session_scope
from db.models import Annotator, Case, CodebookVersion, Model, Response, Study
from pipeline.annotation import study_codebook
from pipeline.errors import DxTraceError
from pipeline.report import build_report, render_markdown
from tests._browser import fill_sign_in, new_app_page, study_db, wait_idle
from tests.annotator.conftest import assigned_world, first_item
from tests.pipeline.annotation.conftest import PASSWORD

pytestmark = pytest.mark.browser

OUTSIDE = "198.51.100.7"  # TEST-NET-2: never reachable, and any request to it is counted
HOSTILE = (
    f"![i](http://{OUTSIDE}/md.png) :red[RED] <img src=http://{OUTSIDE}/tag.png> "
    f"[l](http://{OUTSIDE}/link) $x^2$ &lt;b&gt; \u202eevil"
)
PAGES = {  # title in the sidebar -> a text the page shows once drawn
    "Annotate": re.compile("Reasoning trace ·|No items of this study are assigned"),
    "Grading": "Grading of uncertain matches",
    "Codebook": "Codebook · version",
    "Study overview": "Study overview ·",
    "Assignment": "Assignment",
    "Agreement": "Agreement between annotators",
    "Study settings": "Study settings",
    "Adjudication": "Adjudication",
    "Trace clusters": "Trace clusters",
    "Flagged items": "Flagged items",
    "Pair side by side": "Pair side by side",
    "Red flags": "Red-flag list",
    "Reports and exports": "Reports and exports",
    "Accounts": "New account",
}
ANNOTATOR_PAGES = ("Annotate", "Grading", "Codebook")


def _poison(engine, world, rid: int) -> None:
    """The hostile text in case metadata, gold, vignette, trace, study, names, model and codebook texts."""
    with session_scope(engine) as s:
        study = s.get(Study, world.study_id)
        study_codebook(s, study)
        study.name = f"study {HOSTILE}"
        study.description = HOSTILE
        study.blind_models = False
        study.blind_annotators = False
        response = s.get(Response, rid)
        response.trace = f"{HOSTILE}\n\n{response.trace}"
        response.answer = HOSTILE
        case = s.get(Case, response.case_id)
        case.specialty = HOSTILE
        case.gold_diagnosis = HOSTILE
        case.vignette = f"# {HOSTILE}\n\n{case.vignette}"
        s.get(Model, response.model_id).name = f"model {HOSTILE}"
        for person in s.exec(select(Annotator)):
            person.display_name = f"{person.username} {HOSTILE}"
        for book in s.exec(select(CodebookVersion)):
            book.error_modes = [
                {**m, "name": f"{m['name']} {HOSTILE}", "definition": HOSTILE, "example": HOSTILE}
                for m in book.error_modes
            ]
        s.add_all([study, response, case])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root, url, engine = study_db(tmp_path_factory, "hostile")
    world = assigned_world(engine)
    _poison(engine, world, first_item(engine, world))
    with (root / "streamlit.log").open("w") as log:
        try:
            with serve_app(url, log=log) as base:
                yield {"base": base, "engine": engine, "world": world}
        except DxTraceError as exc:
            pytest.fail(f"{exc}: {(root / 'streamlit.log').read_text()}")
    engine.dispose()


def _outside(urls: list[str]) -> list[str]:
    return [
        u
        for u in urls
        if urlparse(u).scheme in ("http", "https", "ws", "wss")
        and urlparse(u).hostname not in ("127.0.0.1", "localhost")
    ]


def _check_inert(page) -> None:
    assert page.locator(f'img[src*="{OUTSIDE}"]').count() == 0
    links = page.locator(f'a[href*="{OUTSIDE}"]')
    assert links.count() == 0, [
        links.nth(i).evaluate("e => e.parentElement.outerHTML") for i in range(min(3, links.count()))
    ]
    assert page.locator('[data-testid="stMarkdownColoredText"], .katex').count() == 0
    assert page.evaluate("document.body.innerText").count("\u202e") == 0


@pytest.mark.parametrize("username", ["ann1", "lead"])
def test_every_page_shows_hostile_text_inert_and_nothing_leaves(served, browser, username):
    page = new_app_page(browser, viewport={"width": 1440, "height": 1000})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("websocket", lambda ws: requests.append(ws.url))
    page.goto(served["base"])
    fill_sign_in(page, username, PASSWORD)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_text("[U+202E RLO]evil").first).to_be_visible(timeout=60_000)  # the display name, inert
    pages = PAGES if username == "lead" else {t: PAGES[t] for t in ANNOTATOR_PAGES}
    if username != "lead":
        expect(sidebar.get_by_role("link", name="Study overview")).to_have_count(0)
    for title, marker in pages.items():
        sidebar.get_by_role("link", name=title, exact=True).click()
        expect(page.get_by_text(marker).first).to_be_visible(timeout=60_000)
        expect(page.locator('[data-testid="stApp"]')).to_have_attribute(
            "data-test-script-state", "notRunning", timeout=60_000
        )
        _check_inert(page)
        assert _outside(requests) == [], (title, _outside(requests))
    if username == "lead":
        page.close()
        return
    page.goto(f"{served['base']}/annotate")  # the annotate page again (the session is kept), expanders open
    expect(page.get_by_text("Reasoning trace ·").first).to_be_visible(timeout=60_000)
    wait_idle(page)  # a summary that a rerun is redrawing is inert: click once the app is idle
    # Open every expander a person can reach (not those inside an inert part of the page).
    page.evaluate(
        """() => document.querySelectorAll('[data-testid="stExpander"] details:not([open]) > summary')
            .forEach((s) => { if (!s.closest('[inert]')) s.click(); })"""
    )
    wait_idle(page)
    expect(page.get_by_text(":red[RED]").first).to_be_visible()  # the directive shown as the text it is
    _check_inert(page)
    assert _outside(requests) == []
    page.close()


def test_report_markdown_is_inert_in_a_browser(served, browser):
    with session_scope(served["engine"]) as s:
        text = render_markdown(build_report(s, served["world"].study_id, n_boot=50))
    html = MarkdownIt("gfm-like", {"linkify": False, "html": True}).render(text)  # a viewer that allows HTML
    assert "<img" not in html and "<a " not in html
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.set_content(f"<html><body>{html}</body></html>", wait_until="load")
    expect(page.get_by_text("[U+202E RLO]evil").first).to_be_attached()
    _check_inert(page)
    assert _outside(requests) == []
    page.close()
