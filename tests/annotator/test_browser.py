"""The app in a real browser: Debian's chromium driven by playwright against `streamlit run`."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from annotator.serve import serve_app
from db.engine import session_scope
from db.models import Annotation, Annotator, Response
from pipeline.errors import DxTraceError
from tests._browser import fill_sign_in, new_app_page, pick_option, study_db, wait_idle
from tests.annotator.conftest import assigned_world, first_item
from tests.conftest import REPO
from tests.pipeline.annotation.conftest import PASSWORD

pytestmark = pytest.mark.browser

HOSTILE = [
    "<script>window.__pwned = 1; document.title = 'pwned'</script> The patient is stable.",
    '<img src="x" onerror="window.__pwned = 2; document.title = \'pwned\'"> Consider anaemia.',
    "![tracker](http://198.51.100.7/pixel.png) and [click](javascript:window.__pwned=3) then **bold** claims.",
]
SHOTS = REPO / "docs" / "screenshots"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A study database with a hostile first item, and `streamlit run annotator/app.py` serving it."""
    root, url, engine = study_db(tmp_path_factory, "browser")
    world = assigned_world(engine)
    rid = first_item(engine, world)
    with session_scope(engine) as s:
        response = s.get(Response, rid)
        response.trace = "\n\n".join([*HOSTILE, response.trace])
        response.answer = "<script>window.__pwned = 4</script>"
        s.add(response)
    with (root / "streamlit.log").open("w") as log:
        try:
            with serve_app(url, log=log) as base:
                yield {"base": base, "engine": engine, "world": world, "rid": rid}
        except DxTraceError as exc:
            pytest.fail(f"{exc}: {(root / 'streamlit.log').read_text()}")
    engine.dispose()


def _sign_in(page, base: str, username: str) -> None:
    page.goto(base)
    fill_sign_in(page, username, PASSWORD)
    page.get_by_text("Reasoning trace ·").wait_for(timeout=60_000)
    wait_idle(page)


def test_label_with_the_keyboard_save_reload_and_find_it(served, browser):
    page = new_app_page(browser, viewport={"width": 1440, "height": 1000})
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, served["base"], "ann1")
    page.get_by_text("Item 1 of 74 · to do").wait_for()

    # the hostile trace is on the page as text, and nothing of it ran or loaded
    for step in HOSTILE:
        page.get_by_text(step, exact=True).first.wait_for()
    assert page.evaluate("window.__pwned") is None
    assert page.title() != "pwned" and dialogs == []
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator('a[href^="javascript:"]').count() == 0
    assert not any("198.51.100.7" in u for u in requests)
    assert [u for u in requests if not u.startswith((served["base"], "data:", "blob:"))] == []  # nothing leaves

    # search inside the trace: only the matching steps are drawn
    wait_idle(page)
    search = page.get_by_label("Search in the trace")
    search.fill("anaemia")
    search.press("Enter")
    page.get_by_text("steps match:").or_(page.get_by_text("step match:")).first.wait_for(timeout=30_000)
    search.fill("")
    search.press("Enter")
    page.get_by_text("steps match:").or_(page.get_by_text("step match:")).first.wait_for(state="detached")

    # label with the keyboard: 1 and 3 tick two modes, Ctrl+Enter saves and opens the next item
    page.wait_for_function("window.__dxShortcuts === true")  # the shortcut script is in place
    wait_idle(page)
    page.get_by_text("Item 1 of 74").click()  # focus on the page, not in a field
    page.keyboard.press("1")
    page.locator(".st-key-lbl_evtext_reasoning_drift").wait_for()
    page.keyboard.press("3")
    page.locator(".st-key-lbl_evtext_priority_inversion").wait_for()
    page.get_by_label("Rationale").fill("Drifted to the anaemia; ranked PE low.")
    page.keyboard.press("Control+Enter")  # works while the cursor is still in the rationale
    page.get_by_text("Item 2 of 74 · to do").wait_for(timeout=30_000)
    page.get_by_text("1 of 74 done").first.wait_for()

    with session_scope(served["engine"]) as s:
        me = s.exec(select(Annotator).where(Annotator.username == "ann1")).one()
        [ann] = s.exec(select(Annotation).where(Annotation.annotator_id == me.id)).all()
    assert ann.response_id == served["rid"]
    assert ann.error_modes == ["reasoning_drift", "priority_inversion"]
    assert ann.rationale == "Drifted to the anaemia; ranked PE low."

    # reload: the session survives it (a session token), and the saved label is there
    page.reload()
    page.get_by_text("Reasoning trace ·").wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_label("Username").count() == 0
    page.get_by_text("Item 2 of 74 · to do").wait_for()
    pick_option(page, "queue_pick", re.compile(r"^Item 1\s+✓ done$"))
    page.get_by_text("Item 1 of 74 · labelled").wait_for(timeout=30_000)
    # Streamlit redraws the column after the heading: wait for the stored labels rather than read a stale form.
    expect(page.locator(".st-key-lbl_mode_reasoning_drift input")).to_be_checked(timeout=30_000)
    expect(page.locator(".st-key-lbl_mode_priority_inversion input")).to_be_checked()
    expect(page.locator(".st-key-lbl_mode_red_flag_failure input")).not_to_be_checked()
    assert page.evaluate("window.__pwned") is None
    page.close()
