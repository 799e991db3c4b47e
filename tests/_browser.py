"""Debian's chromium for the real-browser tests: never a downloaded browser.

Browser tests wait on states the app guarantees, never on time: `new_app_page` installs a watcher of
Streamlit's script state and of DOM changes in every page it opens, and `wait_idle` waits until no script
run is going on and the page has stopped changing. `pick_option` opens a select box only then, and opens
it again if a late rerun redrew it under the click.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium tries the network at every start (closed here).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip

# Records the time of the last DOM change, from the first byte of every document the page loads.
_WATCH_DOM = """
(() => {
  window.__dxLastChange = Date.now();
  const start = () => new MutationObserver(() => { window.__dxLastChange = Date.now(); })
      .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
"""
# Idle: the app element is drawn, Streamlit runs no script and wants no rerun, and the DOM is quiet.
_IDLE = """(quietMs) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return false;
  const state = app.getAttribute('data-test-script-state');
  if (state === 'running' || state === 'rerunRequested') return false;
  if (document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')) return false;
  return Date.now() - (window.__dxLastChange || 0) >= quietMs;
}"""


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run ./run test (it installs the Debian package)")


def study_db(tmp_path_factory, name: str):
    """(folder, URL, engine) of a new, migrated SQLite study database for one browser-test module."""
    from db.engine import make_engine
    from db.migrate import upgrade

    require_chromium()
    root = tmp_path_factory.mktemp(name)
    url = f"sqlite:///{root / 'study.db'}"
    engine = make_engine(url)
    upgrade(engine)
    return root, url, engine


def fill_sign_in(page, username: str, password: str) -> None:
    """Type the credentials into the sign-in form and submit it with Enter (as a person would)."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.keyboard.press("Enter")


def new_app_page(browser, **kwargs):
    """A page of the annotation app whose idleness `wait_idle` can tell."""
    page = browser.new_page(**kwargs)
    page.add_init_script(_WATCH_DOM)
    return page


def wait_idle(page, *, quiet_ms: int = 400, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished its script run and nothing on the page has changed for quiet_ms."""
    page.wait_for_function(_IDLE, arg=quiet_ms, timeout=timeout, polling=50)


def pick_option(page, select_key: str, option: str | re.Pattern, *, attempts: int = 5) -> None:
    """Choose `option` in the select box with widget key `select_key`.

    A rerun that starts after the box is opened closes or redraws its list under the click; then the
    list is gone (or the option detached), and the box is opened again once the app is idle.
    """
    name = option if isinstance(option, re.Pattern) else re.compile(rf"^\s*{re.escape(option)}\s*$")
    last: Exception | None = None
    for _ in range(attempts):
        wait_idle(page)
        page.locator(f".st-key-{select_key} [role='combobox']").first.click()
        item = page.get_by_role("option", name=name)
        try:
            item.first.wait_for(state="visible", timeout=5_000)
            item.first.click(timeout=5_000)
            return
        except PlaywrightError as exc:  # the list was closed or redrawn by a rerun: open it again
            last = exc
            page.keyboard.press("Escape")
    raise AssertionError(f"could not choose {name.pattern!r} in {select_key!r}: {last}")
