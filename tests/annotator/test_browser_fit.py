"""Nothing is cut off at a laptop's 1280x720 nor at 1440x900: every page of both roles is walked in Debian's
chromium, and no button, chip, tab, label, metric or table cell hides part of its text (clipped or ended with an
ellipsis); the labels column stays in view while the trace scrolls."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from annotator.serve import serve_app
from db.engine import session_scope
from pipeline.agreement import settle_final_labels
from pipeline.annotation import AnnotationInput, annotator_queue, save_annotation, set_can_grade
from tests._browser import fill_sign_in, new_app_page, study_db, wait_idle
from tests.annotator.conftest import assigned_world
from tests.annotator.test_browser_keys import _pending
from tests.annotator.test_hostile_browser import ANNOTATOR_PAGES, PAGES
from tests.pipeline.annotation.conftest import PASSWORD

pytestmark = pytest.mark.browser

SIZES = [(1280, 720), (1440, 900)]

# Elements whose text a person must read whole, and any element that ends its text with an ellipsis. Text
# inside a field (input, textarea) scrolls by design and is not counted; nor is a dataframe's canvas.
CUT_OFF = """() => {
  const shown = (el) => {
    if (!el.getClientRects().length) return false;
    if (el.closest('details:not([open]) > :not(summary)')) return false;
    const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none';
  };
  const what = (el) => (el.closest('[class*="st-key-"]') || {}).className?.match(/st-key-\\S+/)?.[0] || el.tagName;
  const clipped = (el) => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible'
      && getComputedStyle(el).overflowX !== 'auto' && getComputedStyle(el).overflowX !== 'scroll';
  const ellipsed = (el) => getComputedStyle(el).textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1;
  const read = 'button, button *, [role="tab"], [role="tab"] *, [data-baseweb="tag"], [data-baseweb="tag"] *, '
      + 'label, label *, [data-testid="stWidgetLabel"] *, [data-testid="stMetric"] *, td, th, td *, th *, '
      + 'summary, summary *, [data-testid="stSidebarNav"] a, [data-testid="stSidebarNav"] a *';
  const out = new Set();
  const app = document.querySelector('[data-testid="stApp"]');
  for (const el of app.querySelectorAll('*')) {
    if (el.closest('input, textarea, [data-testid="stDataFrame"], [data-testid="stCode"]')) continue;
    if (!shown(el) || !el.textContent.trim()) continue;
    if (ellipsed(el) || (el.matches(read) && clipped(el))) {
      out.add(`${what(el)}: ${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 60)}"`);
    }
  }
  return [...out];
}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A study in the middle of its work: labels and their history, a flag, a disagreement, settled labels,
    uncertain grades."""
    root, url, engine = study_db(tmp_path_factory, "fit")
    w = assigned_world(engine)
    _pending(engine, [r for r in w.all_ids if r not in set(w.incorrect)][:3])
    with session_scope(engine) as s:
        set_can_grade(s, "ann1", True)
        one = annotator_queue(s, w.study_id, w.people["ann1"])
        for i, q in enumerate(one[:8]):
            for who, modes in (("ann1", ["reasoning_drift"]), ("ann2", ["reasoning_drift", "priority_inversion"])):
                labels = AnnotationInput(
                    modes if i % 2 else ["reasoning_drift"],
                    evidence={"reasoning_drift": [2, 3]},
                    first_error_step=2,
                    severity="major",
                    confidence=4,
                    rationale="Anchors on the first finding and never returns to the case.",
                    flagged=i == 3 and who == "ann2",
                )
                save_annotation(s, study_id=w.study_id, response_id=q.response_id, annotator_id=w.people[who],
                                labels=labels)  # fmt: skip
        first = one[0].response_id
        save_annotation(  # a change: the item's history has two rows
            s,
            study_id=w.study_id,
            response_id=first,
            annotator_id=w.people["ann1"],
            labels=AnnotationInput(["reasoning_drift", "red_flag_failure"], evidence={"red_flag_failure": [4]}),
        )
        settle_final_labels(s, w.study_id)
    with (root / "streamlit.log").open("w") as log, serve_app(url, log=log) as base:
        yield {"base": base, "engine": engine, "world": w, "first": first}
    engine.dispose()


def _sign_in(page, base: str, who: str) -> None:
    page.goto(base)
    fill_sign_in(page, who, PASSWORD)
    page.get_by_text("Sign out").wait_for(timeout=60_000)
    wait_idle(page)


def _open_all(page) -> None:
    """Open every expander a person can open (the history of labels, the codebook...)."""
    page.evaluate(
        """() => document.querySelectorAll('[data-testid="stExpander"] details:not([open]) > summary')
            .forEach((s) => { if (!s.closest('[inert]')) s.click(); })"""
    )
    wait_idle(page)


def _walk(page, titles) -> dict[str, list[str]]:
    sidebar = page.locator('[data-testid="stSidebar"]')
    found = {}
    for title in titles:
        sidebar.get_by_role("link", name=title, exact=True).click()
        expect(page.get_by_text(PAGES[title]).first).to_be_visible(timeout=60_000)
        wait_idle(page)
        _open_all(page)
        found[title] = page.evaluate(CUT_OFF)
    return {t: f for t, f in found.items() if f}


@pytest.mark.parametrize("size", SIZES)
def test_nothing_cut_off_on_the_clinician_pages(served, browser, size):
    page = new_app_page(browser, viewport={"width": size[0], "height": size[1]})
    _sign_in(page, served["base"], "ann1")
    found = _walk(page, ANNOTATOR_PAGES)
    # the annotate page on a labelled item with its history, two modes ticked and the mark-for choice
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Annotate", exact=True).click()
    page.get_by_text("Reasoning trace ·").first.wait_for(timeout=60_000)
    wait_idle(page)
    page.locator(".st-key-queue_pick [role='combobox']").click()
    page.get_by_role("option", name=re.compile(r"^Item 1\s")).first.click()
    page.get_by_text("Item 1 of 74 · labelled").wait_for(timeout=60_000)
    expect(page.locator(".st-key-lbl_mark_mode")).to_be_visible(timeout=30_000)
    wait_idle(page)
    _open_all(page)
    expect(page.get_by_text("History of your labels (2 changes)")).to_be_visible()
    cut = page.evaluate(CUT_OFF)
    if cut:
        found["Annotate (labelled item)"] = cut
    assert found == {}, found
    # the labels column stays in view while the trace scrolls
    steps = page.locator('[class*="st-key-step_"]')
    step = steps.nth(steps.count() // 2)
    step.scroll_into_view_if_needed()
    wait_idle(page)
    expect(step).to_be_in_viewport()
    expect(page.locator(".st-key-lbl_mode_reasoning_drift")).to_be_in_viewport()
    page.close()


@pytest.mark.parametrize("size", SIZES)
def test_nothing_cut_off_on_the_lead_pages(served, browser, size):
    page = new_app_page(browser, viewport={"width": size[0], "height": size[1]})
    _sign_in(page, served["base"], "lead")
    found = _walk(page, [t for t in PAGES if t != "Annotate"])
    assert found == {}, found
    page.close()
