"""Keyboard in a real browser: the grading page by keyboard alone, and a key that marks the trace step in view
(or focused) as evidence, highlighted where it stands; every key shown on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from annotator.serve import serve_app
from db.engine import session_scope
from db.models import Annotation, Annotator, Grade, Response
from pipeline.annotation import set_can_grade
from tests._browser import fill_sign_in, new_app_page, study_db, wait_idle
from tests.annotator.conftest import assigned_world
from tests.annotator.test_browser_evidence import long_first
from tests.pipeline.annotation.conftest import PASSWORD

pytestmark = pytest.mark.browser

LISTED = ["Viral pharyngitis", "Acute HIV infection", "Mononucleosis"]


def _pending(engine, response_ids: list[int]) -> None:
    """Uncertain grades (the newest automatic grade) for these responses."""
    with session_scope(engine) as s:
        for rid in response_ids:
            s.add(
                Grade(
                    response_id=rid,
                    correct=None,
                    method="fuzzy",
                    status="pending",
                    grader="test",
                    details={
                        "diagnoses": LISTED,
                        "candidates": [{"rank": 2, "diagnosis": LISTED[1], "method": "fuzzy", "score": 0.71}],
                    },
                )
            )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root, url, engine = study_db(tmp_path_factory, "keys")
    w = assigned_world(engine)
    for who in ("ann1", "ann2"):
        long_first(engine, w.study_id, w.people[who])
    correct = [r for r in w.all_ids if r not in set(w.incorrect)]
    _pending(engine, correct[:6])
    with session_scope(engine) as s:
        for who in ("ann1", "ann2"):
            set_can_grade(s, who, True)
    with (root / "streamlit.log").open("w") as log, serve_app(url, log=log) as base:
        yield {"base": base, "engine": engine, "world": w}
    engine.dispose()


def _open(browser, base: str, who: str, size, title: str = ""):
    page = new_app_page(browser, viewport={"width": size[0], "height": size[1]})
    page.goto(base)
    fill_sign_in(page, who, PASSWORD)
    page.get_by_text("Reasoning trace ·").wait_for(timeout=60_000)
    if title:
        wait_idle(page)
        page.locator('[data-testid="stSidebar"]').get_by_role("link", name=title, exact=True).click()
        page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    wait_idle(page)
    page.wait_for_function("window.__dxShortcuts === true")
    return page


def _focus_page(page, text: str) -> None:
    page.get_by_text(text).first.click()  # focus on the page, not in a field
    wait_idle(page)


SIZES = [(1280, 720), (1440, 900)]


@pytest.mark.parametrize("size", SIZES)
def test_grading_page_by_keyboard_alone(served, browser, size):
    who = "ann1" if size[0] == 1280 else "ann2"
    page = _open(browser, served["base"], who, size, "Grading")
    legend = page.get_by_text("Ctrl+Enter record grade", exact=False)
    expect(legend.first).to_be_visible()  # every key is shown on the page
    for shown in ("1–9 the listed diagnosis", "0 none of them", "N write a note", "S skip for now", "G what the"):
        expect(legend.first).to_contain_text(shown)
    first_case = page.locator(".st-key-grade_case").inner_text()
    _focus_page(page, "Grading of uncertain matches")
    page.keyboard.press("2")
    radios = page.locator("[class*='st-key-grade_choice_'] input[type='radio']")
    expect(radios.nth(1)).to_be_checked(timeout=30_000)
    wait_idle(page)
    page.keyboard.press("0")  # none of them: the last option
    expect(radios.nth(len(LISTED))).to_be_checked(timeout=30_000)
    wait_idle(page)
    page.keyboard.press("2")
    expect(radios.nth(1)).to_be_checked(timeout=30_000)
    wait_idle(page)
    page.keyboard.press("g")  # what the grader found opens
    expect(page.get_by_text("rank 2 · fuzzy · score 0.71")).to_be_visible(timeout=30_000)
    wait_idle(page)
    page.keyboard.press("n")  # the note field takes the focus
    expect(page.locator("[class*='st-key-grade_note_'] input")).to_be_focused(timeout=30_000)
    page.keyboard.type("same disease, other name")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_text(f"Recorded: 2. {LISTED[1]}")).to_be_visible(timeout=30_000)
    wait_idle(page)
    with session_scope(served["engine"]) as s:
        me = s.exec(select(Annotator).where(Annotator.username == who)).one()
        [g] = s.exec(select(Grade).where(Grade.status == "clinician", Grade.grader == who)).all()
    assert (g.rank, g.correct, g.details["note"]) == (2, True, "same disease, other name") and me.can_grade
    # S puts the next item aside: another case is shown
    before = page.locator(".st-key-grade_case").inner_text()
    assert before != first_case
    _focus_page(page, "Grading of uncertain matches")
    page.keyboard.press("s")
    expect(page.locator(".st-key-grade_case")).not_to_have_text(before, timeout=30_000)
    page.close()


def _scroll_to_line(page, n: int) -> None:
    """Scroll the page so that step n crosses the line a third down the window."""
    page.locator(f".st-key-step_{n}").evaluate(
        """(el) => {
            const main = document.querySelector('[data-testid="stMain"]');
            main.scrollTop += el.getBoundingClientRect().top - (window.innerHeight / 3 - 10);
        }"""
    )
    wait_idle(page)


@pytest.mark.parametrize("size", SIZES)
def test_a_key_marks_the_step_in_view_or_focused(served, browser, size):
    who = "ann1" if size[0] == 1280 else "ann2"
    page = _open(browser, served["base"], who, size)
    legend = page.get_by_text("M mark the step in view as evidence", exact=False).first
    expect(legend).to_be_visible()
    expect(legend).to_contain_text("E mark the step in view as the first error")
    _focus_page(page, "Item 1 of 74")
    page.keyboard.press("m")  # no mode ticked yet: nothing to mark, nothing happens
    wait_idle(page)
    assert page.locator("[class*='st-key-evmark_']").count() == 0
    page.keyboard.press("1")
    field = page.locator(".st-key-lbl_evtext_reasoning_drift input")
    field.wait_for()
    wait_idle(page)
    _scroll_to_line(page, 7)
    expect(page.locator(".st-key-step_7")).to_be_in_viewport()
    page.keyboard.press("m")
    expect(field).to_have_value("7", timeout=30_000)
    expect(page.locator(".st-key-evmark_7")).to_contain_text("Step 7 · Reasoning drift")
    expect(page.locator(".st-key-step_7")).to_have_css("background-color", "rgba(255, 170, 0, 0.14)")
    wait_idle(page)
    page.keyboard.press("e")  # the same step is the first error
    expect(page.locator(".st-key-evmark_7")).to_contain_text("first error", timeout=30_000)
    expect(page.locator(".st-key-lbl_first_step input")).to_have_value("7")
    wait_idle(page)
    # a focused step wins over the one in view: Tab to step 12's button, then M
    page.locator(".st-key-first_12 button:visible").first.focus()
    page.keyboard.press("m")
    expect(field).to_have_value("7, 12", timeout=30_000)
    expect(page.locator(".st-key-evmark_12")).to_contain_text("Step 12 · Reasoning drift")
    wait_idle(page)
    page.locator(".st-key-mark_12 button:visible").first.focus()
    page.keyboard.press("m")  # again: unmarks it
    expect(field).to_have_value("7", timeout=30_000)
    wait_idle(page)
    page.keyboard.press("Control+Enter")
    page.get_by_text("Item 2 of 74").first.wait_for(timeout=30_000)
    with session_scope(served["engine"]) as s:
        me = s.exec(select(Annotator).where(Annotator.username == who)).one()
        [ann] = s.exec(select(Annotation).where(Annotation.annotator_id == me.id)).all()
        assert s.get(Response, ann.response_id) is not None
    assert ann.evidence == {"reasoning_drift": [7]} and ann.first_error_step == 7
    page.close()
