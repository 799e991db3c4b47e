"""The report in a real browser, offline: Debian's chromium opens the file and nothing leaves the machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Study
from pipeline.report import write_report
from tests._browser import ARGS, CHROMIUM, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.model]

DOCS_SHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
# docs/screenshots/ is refreshed only on request (DXTRACE_SCREENSHOTS=1), so a test run leaves the tree clean.
SHOTS_TO_DOCS = os.environ.get("DXTRACE_SCREENSHOTS") == "1"
TITLES = {
    "design": "Study design",
    "methods": "Methods (generated from the study)",
    "flow": "Flow of responses",
    "accuracy": "Diagnostic accuracy",
    "prevalence": "Error-mode prevalence",
    "agreement": "Inter-rater agreement",
    "clusters": "Clusters of reasoning traces",
    "exemplars": "Exemplars per error mode",
}


def test_report_opens_offline_with_every_section(clustered_study, tmp_path):
    screenshot = (DOCS_SHOTS if SHOTS_TO_DOCS else tmp_path) / "report.png"
    require_chromium()
    from playwright.sync_api import sync_playwright

    with session_scope(clustered_study) as s:
        study = s.exec(select(Study)).one()
        html_path = write_report(s, study.id, tmp_path / "report", n_boot=300, formats=["html"])[0]
    # Alone in an empty folder: the file must need nothing next to it.
    alone = tmp_path / "alone" / "report.html"
    alone.parent.mkdir()
    shutil.copy(html_path, alone)

    leaving: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1500}, offline=True)

        def guard(route):
            if route.request.url.startswith(("file:", "data:", "blob:", "about:")):
                route.continue_()
            else:
                leaving.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(alone.as_uri(), wait_until="load")
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 5")

        for sid, title in TITLES.items():
            section = page.locator(f"section#{sid}")
            assert section.get_attribute("data-available") == "true", sid
            assert section.locator("h2").inner_text() == title
            assert section.is_visible()
        nav = page.locator("nav.toc a")
        assert nav.count() == len(TITLES)
        # The charts drew (plotly ran from the inlined script).
        plots = page.locator(".js-plotly-plot")
        assert plots.count() >= 5
        assert page.locator("#chart-prevalence .bars path, #chart-prevalence .point path").count() > 0
        # Exemplars: evidence steps are marked and visible.
        evidence = page.locator("section#exemplars li.step.evidence")
        assert evidence.count() >= 3
        assert "evidence" in evidence.first.locator(".tag").first.inner_text()
        assert page.locator("section#exemplars article.exemplar").count() >= 3
        # A table a reader checks: prevalence per model has a row per labelled model.
        rows = page.locator("section#prevalence table").first.locator("tbody tr")
        assert rows.count() >= 2
        # Untrusted text shows as text, not markup.
        assert page.locator("section#exemplars b").count() == 0
        assert "<b>drops</b>" in page.locator("section#exemplars").inner_text()

        page.locator("header.top").scroll_into_view_if_needed()
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=False)
        browser.close()

    assert leaving == [], leaving
    assert errors == [], errors
    assert screenshot.stat().st_size > 20_000
