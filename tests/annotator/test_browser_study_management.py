"""A lead moves items between annotators in a real browser (Debian's chromium, 1280x720): preview, apply,
and the page shows the new counts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from annotator.serve import serve_app
from db.engine import session_scope
from pipeline.annotation import AnnotationInput, annotator_queue, assign, save_annotation
from pipeline.errors import DxTraceError
from tests._browser import fill_sign_in, new_app_page, pick_option, study_db, wait_idle
from tests.pipeline.annotation.conftest import PASSWORD, build_world

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root, url, engine = study_db(tmp_path_factory, "manage")
    w = build_world(engine)
    with session_scope(engine) as s:
        assign(s, w.study_id, response_ids=w.incorrect, annotator_ids=[w.people["ann1"], w.people["ann2"]], per_item=1)
        first = annotator_queue(s, w.study_id, w.people["ann1"])[0].response_id
        save_annotation(
            s,
            study_id=w.study_id,
            response_id=first,
            annotator_id=w.people["ann1"],
            labels=AnnotationInput(error_modes=["reasoning_drift"]),
        )
    with (root / "streamlit.log").open("w") as log:
        try:
            with serve_app(url, log=log) as base:
                yield {"base": base, "engine": engine, "world": w}
        except DxTraceError as exc:
            pytest.fail(f"{exc}: {(root / 'streamlit.log').read_text()}")
    engine.dispose()


def _row(page, name: str):
    """The cells of one annotator's row in the 'Who has what' table, as text."""
    table = page.locator('[data-testid="stTable"]').first
    return table.locator("tr", has=page.locator("td, th", has_text=re.compile(rf"^{name}$"))).first


def test_lead_moves_items_with_a_preview_and_sees_the_new_counts(served, browser):
    page = new_app_page(browser, viewport={"width": 1280, "height": 720})
    page.goto(served["base"])
    fill_sign_in(page, "lead", PASSWORD)
    page.get_by_text("Study overview ·").first.wait_for(timeout=60_000)
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Assignment", exact=True).click()
    page.get_by_text("Who has what").wait_for(timeout=60_000)
    wait_idle(page)
    expect(_row(page, "ann1")).to_contain_text("37")
    page.get_by_role("tab", name="Move or unassign items").click()
    wait_idle(page)
    pick_option(page, "mv_from", "ann1")
    page.keyboard.press("Escape")  # close the multiselect's list
    pick_option(page, "mv_to", "ann3")
    wait_idle(page)
    page.locator(".st-key-mv_preview button").click()
    preview = page.get_by_text(re.compile(r"Preview: 36 item\(s\) moved; 1 refused"))
    expect(preview).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile("1 item\\(s\\) refused; they stay where they are"))).to_be_visible()
    with session_scope(served["engine"]) as s:  # the preview changed nothing
        assert annotator_queue(s, served["world"].study_id, served["world"].people["ann3"]) == []
    wait_idle(page)
    apply = page.locator(".st-key-mv_apply button")
    apply.scroll_into_view_if_needed()
    expect(apply).to_be_enabled()
    apply.click()
    expect(page.get_by_text(re.compile(r"Applied: 36 item\(s\) moved"))).to_be_visible(timeout=60_000)
    wait_idle(page)
    # the counts on the page: ann1 keeps the labelled item only, ann3 has the 36 others
    for name, assigned in (("ann1", "1"), ("ann2", "37"), ("ann3", "36")):
        cells = _row(page, name).locator("td, th").all_inner_texts()
        assert cells[:2] == [name, assigned], cells
    with session_scope(served["engine"]) as s:
        assert len(annotator_queue(s, served["world"].study_id, served["world"].people["ann3"])) == 36
    page.close()
