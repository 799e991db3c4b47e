"""The evidence picker in a real browser: typing 8 then Enter is step 8 (never 'Select 2 matches');
a click on a step marks it and highlights it where it stands."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from annotator.serve import serve_app
from db.engine import session_scope
from db.models import Annotation, Annotator, Assignment, Response
from pipeline.annotation import split_steps
from tests._browser import fill_sign_in, new_app_page, pick_option, study_db, wait_idle
from tests.annotator.conftest import assigned_world
from tests.pipeline.annotation.conftest import PASSWORD

pytestmark = pytest.mark.browser


def long_first(engine, study_id: int, annotator_id: int, min_steps: int = 20) -> None:
    """Put an item of at least min_steps steps first in this annotator's queue (steps 8 and 18 exist)."""
    with session_scope(engine) as s:
        rows = s.exec(
            select(Assignment)
            .where(Assignment.study_id == study_id, Assignment.annotator_id == annotator_id)
            .order_by(Assignment.position)
        ).all()
        long = next(a for a in rows if len(split_steps(s.get(Response, a.response_id).trace)) >= min_steps)
        long.position, rows[0].position = rows[0].position, long.position
        s.add_all([long, rows[0]])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root, url, engine = study_db(tmp_path_factory, "evidence")
    w = assigned_world(engine)
    for who in ("ann1", "ann2"):
        long_first(engine, w.study_id, w.people[who], min_steps=25)  # more than a page of 20 steps
    with (root / "streamlit.log").open("w") as log, serve_app(url, log=log) as base:
        yield {"base": base, "engine": engine}
    engine.dispose()


@pytest.mark.parametrize("size", [(1280, 720), (1440, 900)])
def test_type_8_enter_is_step_8_and_a_click_marks_the_step(served, browser, size):
    page = new_app_page(browser, viewport={"width": size[0], "height": size[1]})
    page.goto(served["base"])
    user = "ann1" if size[0] == 1280 else "ann2"
    fill_sign_in(page, user, PASSWORD)
    page.get_by_text("Reasoning trace ·").wait_for(timeout=60_000)
    wait_idle(page)
    page.wait_for_function("window.__dxShortcuts === true")
    page.get_by_text("Item 1 of 74 · to do").click()  # focus on the page, not in a field
    page.keyboard.press("1")  # ticks the first error mode
    field = page.locator(".st-key-lbl_evtext_reasoning_drift input")
    field.wait_for()
    wait_idle(page)
    field.fill("8")
    field.press("Enter")
    wait_idle(page)
    first = page.locator(".st-key-lbl_first_step input")
    first.fill("8")
    first.press("Enter")
    wait_idle(page)
    page.locator(".st-key-mark_2 button:visible").click()
    wait_idle(page)
    expect(field).to_have_value("2, 8")
    # marked steps are highlighted in the trace, with what they are marked as
    expect(page.locator(".st-key-step_2")).to_have_css("background-color", "rgba(255, 170, 0, 0.14)")
    expect(page.locator(".st-key-evmark_2")).to_contain_text("Step 2 · Reasoning drift")
    expect(page.locator(".st-key-evmark_8")).to_contain_text("first error")
    assert page.locator(".st-key-evmark_18").count() == 0
    page.locator(".st-key-save button").click()
    page.get_by_text("Item 2 of").first.wait_for(timeout=30_000)
    with session_scope(served["engine"]) as s:
        me = s.exec(select(Annotator).where(Annotator.username == user)).one()
        [ann] = s.exec(select(Annotation).where(Annotation.annotator_id == me.id)).all()
    assert ann.evidence == {"reasoning_drift": [2, 8]} and ann.first_error_step == 8
    page.close()


@pytest.mark.parametrize("size", [(1280, 720), (1440, 900)])
def test_severity_confidence_and_previous_item_by_keyboard(served, browser, size):
    page = new_app_page(browser, viewport={"width": size[0], "height": size[1]})
    page.goto(served["base"])
    fill_sign_in(page, "ann1" if size[0] == 1280 else "ann2", PASSWORD)
    page.get_by_text("Item 2 of 74 · to do").wait_for(timeout=60_000)  # item 1 was labelled above
    page.wait_for_function("window.__dxShortcuts === true")
    wait_idle(page)
    expect(page.get_by_text("7 8 9 0 severity", exact=False).first).to_be_visible()  # the keys are shown
    page.get_by_text("Item 2 of 74 · to do").click()
    page.keyboard.press("1")
    page.locator(".st-key-lbl_evtext_reasoning_drift").wait_for()
    wait_idle(page)
    page.keyboard.press("9")
    expect(page.locator(".st-key-lbl_severity input[type='radio']").nth(2)).to_be_checked(timeout=30_000)
    wait_idle(page)
    page.keyboard.press("Alt+4")
    expect(page.locator(".st-key-lbl_confidence input[type='radio']").nth(3)).to_be_checked(timeout=30_000)
    wait_idle(page)
    page.keyboard.press("b")
    page.get_by_text("Item 1 of 74 · labelled").wait_for(timeout=30_000)
    page.close()


@pytest.mark.parametrize("size", [(1280, 720), (1440, 900)])
def test_labels_stay_in_view_while_the_trace_scrolls(served, browser, size):
    page = new_app_page(browser, viewport={"width": size[0], "height": size[1]})
    page.goto(served["base"])
    fill_sign_in(page, "ann1" if size[0] == 1280 else "ann2", PASSWORD)
    page.get_by_text("Reasoning trace ·").wait_for(timeout=60_000)
    wait_idle(page)
    steps = page.locator('[class*="st-key-step_"]')
    # A step in the middle of the page's steps: well down the trace, but not at its very end, where the
    # labels column (taller than the window) reaches the bottom of its row and must scroll with it.
    step = steps.nth(steps.count() // 2)
    step.scroll_into_view_if_needed()
    wait_idle(page)
    expect(step).to_be_in_viewport()
    assert page.evaluate("document.querySelector('[data-testid=stMain]').scrollTop") > 300  # the page scrolled
    expect(page.locator(".st-key-lbl_mode_reasoning_drift")).to_be_in_viewport()  # labels still in view
    # the vignette is not cut to a fixed-height box: its full text is in the page's flow
    box = page.locator(".st-key-vignette").bounding_box()
    assert box is not None and page.locator(".st-key-vignette").evaluate("e => e.scrollHeight <= e.clientHeight + 1")
    page.close()


@pytest.mark.parametrize("size", [(1280, 720), (1440, 900)])
def test_search_hits_are_highlighted_on_every_page_of_matches(served, browser, size):
    page = new_app_page(browser, viewport={"width": size[0], "height": size[1]})
    page.goto(served["base"])
    fill_sign_in(page, "ann1" if size[0] == 1280 else "ann2", PASSWORD)
    page.get_by_text("Reasoning trace ·").wait_for(timeout=60_000)
    pick_option(page, "queue_pick", re.compile(r"^Item 1\s"))  # the long item (earlier tests moved on from it)
    page.get_by_text(re.compile(r"^Item 1 of \d+")).first.wait_for(timeout=30_000)
    wait_idle(page)
    search = page.get_by_label("Search in the trace")
    search.fill("e")  # in nearly every step of a long trace: more matching steps than one page holds
    search.press("Enter")
    page.get_by_text("steps match:").first.wait_for(timeout=30_000)
    wait_idle(page)
    hits = page.locator("mark.dx-hit")
    expect(hits.first).to_be_visible()
    assert all(set(t.casefold()) == {"e"} for t in hits.all_inner_texts())  # adjacent hits ("ee") merge
    page.locator(".st-key-trace_next button").click()  # the second page of matching steps
    page.get_by_text("page 2 of").first.wait_for(timeout=30_000)
    wait_idle(page)
    expect(page.locator("mark.dx-hit").first).to_be_visible()
    page.close()


def _signed_in(page) -> bool:
    page.get_by_text("Study overview").or_(page.get_by_label("Username")).or_(
        page.get_by_text("Reasoning trace ·")
    ).first.wait_for(timeout=60_000)
    wait_idle(page)
    return page.get_by_label("Username").count() == 0


@pytest.mark.parametrize("size", [(1280, 720), (1440, 900)])
def test_reload_keeps_the_session_until_sign_out_or_deactivation(served, browser, size):
    from pipeline.annotation import set_active

    page = new_app_page(browser, viewport={"width": size[0], "height": size[1]})
    page.goto(served["base"])
    fill_sign_in(page, "lead", PASSWORD)
    page.get_by_role("heading", name="Study overview").wait_for(timeout=60_000)  # a lead lands on the overview
    wait_idle(page)
    page.reload()
    assert _signed_in(page)
    page.locator(".st-key-sign_out button").click()
    page.get_by_label("Username").wait_for(timeout=30_000)
    wait_idle(page)
    page.reload()
    assert not _signed_in(page)  # signed out: the token is revoked
    # deactivation revokes the sessions of an account
    fill_sign_in(page, "ann1" if size[0] == 1280 else "ann2", PASSWORD)
    page.get_by_text("Reasoning trace ·").wait_for(timeout=60_000)
    page.reload()
    assert _signed_in(page)
    with session_scope(served["engine"]) as s:
        set_active(s, "ann1" if size[0] == 1280 else "ann2", False)
    page.reload()
    assert not _signed_in(page)
    page.close()
