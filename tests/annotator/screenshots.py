"""Screenshots of the main views for docs/screenshots/ (a real browser on a study of real traces).

.venv/bin/python -m tests.annotator.screenshots
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from annotator.serve import serve_app
from db.engine import make_engine, session_scope
from db.migrate import upgrade
from db.models import Grade
from pipeline.annotation import AnnotationInput, annotator_queue, save_annotation, set_can_grade
from tests._browser import ARGS, CHROMIUM, fill_sign_in, new_app_page, wait_idle
from tests.annotator.conftest import assigned_world
from tests.annotator.test_browser import SHOTS
from tests.conftest import REPO
from tests.factories import add_sandmann_outputs
from tests.pipeline.annotation.conftest import PASSWORD


def _data(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    w = assigned_world(engine)
    with session_scope(engine) as s:
        from db.models import Study

        study = s.get(Study, w.study_id)
        for r in add_sandmann_outputs(s, study, models=["DeepSeek-R1"])[:3]:
            r.diagnoses = ["Viral pharyngitis", "Acute HIV infection", "Infectious mononucleosis"]
            s.add(r)
            details = {"diagnoses": r.diagnoses, "candidates": [{"rank": 2, "method": "fuzzy", "score": 0.71}]}
            s.add(
                Grade(response_id=r.id, correct=None, method="fuzzy", status="pending", grader="auto", details=details)
            )
        set_can_grade(s, "ann1", True)  # the grading page with its uncertain grades, not "not enabled"
        for who, n in (("ann2", 9), ("ann1", 0)):
            for q in annotator_queue(s, w.study_id, w.people[who])[:n]:
                labels = AnnotationInput(["reasoning_drift"], evidence={"reasoning_drift": [2]}, confidence=4)
                save_annotation(
                    s, study_id=w.study_id, response_id=q.response_id, annotator_id=w.people[who], labels=labels
                )
    engine.dispose()


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    root = Path(tempfile.mkdtemp(prefix="dxtrace-shots-"))
    url = f"sqlite:///{root / 'study.db'}"
    _data(url)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serve_app(url) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = new_app_page(browser, viewport={"width": 1500, "height": 1100})

        def settle() -> None:
            wait_idle(page)

        def sign_in(user: str) -> None:
            if page.locator(".st-key-sign_out button").count():  # a reload keeps the session: sign out first
                page.locator(".st-key-sign_out button").click()
                page.get_by_label("Username").wait_for(timeout=60_000)
            page.goto(base)
            page.get_by_label("Username").wait_for(timeout=60_000)
            settle()
            if user == "ann1":
                page.screenshot(path=SHOTS / "sign-in.png")
            fill_sign_in(page, user, PASSWORD)
            page.get_by_text("Sign out").wait_for(timeout=60_000)
            settle()

        sign_in("ann1")
        page.wait_for_function("window.__dxShortcuts === true")
        page.get_by_text("Item 1 of 74").click()
        page.keyboard.press("2")
        page.locator(".st-key-lbl_evtext_red_flag_failure").wait_for()
        page.keyboard.press("3")
        page.locator(".st-key-lbl_evtext_priority_inversion").wait_for()
        page.get_by_label("Rationale").fill("Dismisses the hypercalcaemia; ranks the adenoma below benign causes.")
        settle()
        page.locator(".st-key-step_2 .st-key-first_2 button").first.focus()  # the step the keys act on
        page.keyboard.press("m")  # marks step 2 for the chosen mode
        page.locator(".st-key-evmark_2").wait_for(timeout=30_000)
        settle()
        page.keyboard.press("e")  # and as the first error
        expect(page.locator(".st-key-lbl_first_step input")).to_have_value("2", timeout=30_000)
        settle()
        search = page.get_by_label("Search in the trace")
        search.fill("cortisol")
        search.press("Enter")
        page.get_by_text("steps match:").first.wait_for(timeout=30_000)
        settle()
        page.set_viewport_size({"width": 1500, "height": 1900})
        page.get_by_text("Item 1 of 74").click()
        settle()
        page.screenshot(path=SHOTS / "annotate.png")
        page.set_viewport_size({"width": 1280, "height": 720})  # a laptop: the labels beside the marked step
        search.fill("")
        search.press("Enter")
        page.locator(".st-key-step_2").wait_for(timeout=30_000)
        settle()
        page.locator(".st-key-step_2").evaluate(
            """(el) => { const main = document.querySelector('[data-testid="stMain"]');
                         main.scrollTop += el.getBoundingClientRect().top - 120; }"""
        )
        settle()
        page.screenshot(path=SHOTS / "annotate-1280.png")
        page.set_viewport_size({"width": 1500, "height": 1100})
        page.get_by_role("link", name="Grading").click()
        page.get_by_text("Grading of uncertain matches").wait_for()
        settle()
        page.get_by_role("heading", name="Grading of uncertain matches").click()
        page.keyboard.press("2")
        expect(page.locator("[class*='st-key-grade_choice_'] input[type='radio']").nth(1)).to_be_checked(timeout=30_000)
        settle()
        page.keyboard.press("g")
        page.get_by_text("rank 2 · fuzzy").first.wait_for(timeout=30_000)
        settle()
        page.screenshot(path=SHOTS / "grading.png")
        page.set_viewport_size({"width": 1280, "height": 720})
        settle()
        page.screenshot(path=SHOTS / "grading-1280.png")
        page.set_viewport_size({"width": 1500, "height": 1100})
        page.get_by_role("link", name="Codebook").click()
        page.get_by_text("Codebook · version 1").wait_for()
        settle()
        page.screenshot(path=SHOTS / "codebook.png", full_page=True)
        sign_in("lead")
        for name, title, shot in (
            ("Study overview", "Study overview ·", "overview.png"),
            ("Assignment", "Assignment", "assignment.png"),
            ("Study settings", "Study settings", "settings.png"),
        ):
            page.get_by_role("link", name=name).click()
            page.get_by_role("heading", name=title).first.wait_for()
            settle()
            page.screenshot(path=SHOTS / shot)
        browser.close()
    print("\n".join(str(p.relative_to(REPO)) for p in sorted(SHOTS.glob("*.png"))))


if __name__ == "__main__":
    main()
