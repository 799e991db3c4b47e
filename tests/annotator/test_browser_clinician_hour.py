"""Issue 16 in a real browser, at 1280x720 and 1440x900: answer-only items (1), why the answer was graded
wrong (4), the task instruction (8), similar traces and the lead's suggestions setting (9), flags (10),
and the lead's landing page and adjudication (14). Each test asserts what is on screen, then what is stored.

One served study; every part has its own annotators and items, so the parts do not change each other's
queues. The assignment test comes last: it assigns to everyone."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from annotator.serve import serve_app
from db.engine import session_scope
from db.models import Annotation, Assignment, FinalLabel, Grade
from pipeline.annotation import (
    AnnotationInput,
    annotator_queue,
    assign,
    default_selection,
    save_annotation,
    update_study_settings,
)
from pipeline.errors import DxTraceError
from tests._browser import fill_sign_in, new_app_page, pick_option, study_db, wait_idle
from tests.pipeline.annotation.conftest import PASSWORD, build_world
from tests.pipeline.annotation.test_regrade import add_auto_grade
from tests.pipeline.annotation.test_selection import strip_traces

pytestmark = pytest.mark.browser

SIZES = [(1280, 720), (1440, 900)]
SIZE_IDS = ["1280x720", "1440x900"]
# Who works on what: one annotator per viewport size (index 0: 1280x720, 1: 1440x900).
ANSWER_ONLY = ("ann1", "ann2")
WHY_WRONG = ("ann3", "ann4")
INSTRUCTION = ("ann5", "ann6")
SIMILAR = "ann7"  # both sizes: the test saves nothing
FLAGGERS = ("ann8", "ann9")
FLAG_PARTNER = "ann10"  # labels the flagged items the same way: they would be unanimous but for the flag
ADJUDICATED = ("ann11", "ann12")  # disagree on the first items of the adjudication queue


def _give(s, w, response_ids: list[int], *who: str) -> None:
    people = [w.people[p] for p in who]
    assign(s, w.study_id, response_ids=response_ids, annotator_ids=people, per_item=len(people))


def _label(s, w, who: str, response_id: int, mode: str) -> None:
    labels = AnnotationInput(error_modes=[mode])
    save_annotation(s, study_id=w.study_id, response_id=response_id, annotator_id=w.people[who], labels=labels)


def _plan(engine, w) -> dict[str, list[int]]:
    """Disjoint items per part; the disagreements have the lowest ids, so they head the adjudication queue."""
    ids = sorted(w.incorrect)
    items = {"adjudicate": ids[:3], "flags": ids[3:5], "answer_only": ids[5:7], "why": ids[7:11]}
    items.update({"instruction": ids[11:15], "similar": ids[15:16]})
    strip_traces(engine, items["answer_only"])
    with session_scope(engine) as s:
        for i in range(2):
            _give(s, w, items["answer_only"][i : i + 1], ANSWER_ONLY[i])
            _give(s, w, items["why"][2 * i : 2 * i + 2], WHY_WRONG[i])
            _give(s, w, items["instruction"][2 * i : 2 * i + 2], INSTRUCTION[i])
            _give(s, w, items["flags"][i : i + 1], FLAGGERS[i], FLAG_PARTNER)
            _label(s, w, FLAG_PARTNER, items["flags"][i], "reasoning_drift")
        _give(s, w, items["similar"], SIMILAR)
        _give(s, w, items["adjudicate"], *ADJUDICATED)
        for rid in items["adjudicate"]:
            _label(s, w, ADJUDICATED[0], rid, "reasoning_drift")
            _label(s, w, ADJUDICATED[1], rid, "red_flag_failure")
    for who in WHY_WRONG:  # a grader miss on each first item: why it was graded wrong, and the way out
        add_auto_grade(engine, _first(engine, w, who))
    return items


def _first(engine, w, who: str) -> int:
    with session_scope(engine) as s:
        return annotator_queue(s, w.study_id, w.people[who])[0].response_id


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root, url, engine = study_db(tmp_path_factory, "clinician_hour")
    w = build_world(engine, n_annotators=12, limit=100)  # 20 incorrect responses, few enough to embed
    items = _plan(engine, w)
    with (root / "streamlit.log").open("w") as log:
        try:
            with serve_app(url, log=log) as base:
                yield {"base": base, "engine": engine, "world": w, "items": items}
        except DxTraceError as exc:
            pytest.fail(f"{exc}: {(root / 'streamlit.log').read_text()}")
    engine.dispose()


def _open(browser, served, size, who: str, ready: str = "Reasoning trace ·"):
    """A page of the app at this size, signed in as `who`, idle on the page the person lands on."""
    page = new_app_page(browser, viewport={"width": size[0], "height": size[1]})
    page.goto(served["base"])
    fill_sign_in(page, who, PASSWORD)
    page.get_by_text(ready).first.wait_for(timeout=60_000)
    wait_idle(page)
    return page


def _annotations(served, who: str) -> list[Annotation]:
    person = served["world"].people[who]
    with session_scope(served["engine"]) as s:
        return list(s.exec(select(Annotation).where(Annotation.annotator_id == person)))


def _type(page, label: str, text: str) -> None:
    """Type into a text field and leave it (Tab), so Streamlit has the value before a button is pressed."""
    field = page.get_by_label(label, exact=True)
    field.fill(text)
    field.press("Tab")
    wait_idle(page)


# ------------------------------------------------------------------ 1: answer-only items


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_answer_only_item_asks_for_no_error_modes(served, browser, size):
    who = ANSWER_ONLY[SIZES.index(size)]
    page = _open(browser, served, size, who)
    expect(page.get_by_text("Item 1 of 1 · to do")).to_be_visible()
    expect(page.get_by_text("This response has no reasoning trace, so there are no reasoning error")).to_be_visible()
    expect(page.get_by_role("button", name="Flag for the lead")).to_be_visible()
    # no error mode, no step, no severity: nothing about reasoning is asked
    assert page.locator('[class*="st-key-lbl_mode_"]').count() == 0
    assert page.get_by_role("button", name="Save & next").count() == 0
    assert page.locator(".st-key-task_instruction").count() == 0  # it asks to judge a trace: none here
    for widget in ("lbl_first_step", "lbl_severity", "lbl_confidence"):
        assert page.locator(f".st-key-{widget}").count() == 0
    note = "Only an answer: is 'IHD' the gold in other words?"
    _type(page, "Note for the study lead", note)
    page.get_by_role("button", name="Flag for the lead").click()
    expect(page.get_by_text("All 1 items are labelled.")).to_be_visible(timeout=30_000)
    [ann] = _annotations(served, who)
    assert ann.error_modes == [] and ann.flagged and ann.rationale == note
    page.close()


# ------------------------------------------------------------------ 4: why the answer was graded wrong


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_why_wrong_and_this_answer_is_actually_correct(served, browser, size):
    from pipeline.accuracy import incorrect_response_ids

    who = WHY_WRONG[SIZES.index(size)]
    w, engine = served["world"], served["engine"]
    rid = _first(engine, w, who)
    page = _open(browser, served, size, who)
    expect(page.get_by_text("Item 1 of 2 · to do")).to_be_visible()
    panel = page.locator(".st-key-why_wrong")
    expect(panel).to_contain_text("Why this answer was graded wrong")
    expect(panel).to_contain_text("Graded wrong by dxtrace-grader-test (no listed diagnosis came close)")
    expect(panel).to_contain_text("Closest candidate: #1 'Stable angina' vs 'coronary artery disease'")
    expect(panel).to_contain_text("score 0.71")
    panel.get_by_role("button", name="This answer is actually correct").click()
    expect(page.get_by_text("Recorded as correct; the item left the reasoning queue.")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Item 1 of 1 · to do")).to_be_visible(timeout=30_000)  # the queue is one shorter
    with session_scope(engine) as s:
        assert rid not in incorrect_response_ids(s, w.study_id)
        assert rid not in {a.response_id for a in s.exec(select(Assignment))}
        grade = s.exec(select(Grade).where(Grade.response_id == rid, Grade.status == "clinician")).one()
    assert grade.correct is True and grade.annotator_id == w.people[who]
    page.close()


# ------------------------------------------------------------------ 8: the task instruction


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_task_instruction_on_the_first_item_until_dismissed(served, browser, size):
    page = _open(browser, served, size, INSTRUCTION[SIZES.index(size)])
    expect(page.get_by_text("Item 1 of 2 · to do")).to_be_visible()
    box = page.locator(".st-key-task_instruction")
    expect(box).to_contain_text("Your task")
    expect(box).to_contain_text("Judge its reasoning trace")
    expect(box).to_be_in_viewport()
    case = page.get_by_role("heading", name="Case")
    assert box.bounding_box()["y"] < case.bounding_box()["y"]  # at the top of the item, above the case
    box.get_by_role("button", name="Got it").click()
    expect(box).to_have_count(0, timeout=30_000)
    wait_idle(page)
    page.get_by_role("button", name="Skip").click()
    expect(page.get_by_text("Item 2 of 2 · to do")).to_be_visible(timeout=30_000)
    wait_idle(page)
    expect(page.locator(".st-key-task_instruction")).to_have_count(0)  # stays dismissed on the next item
    expect(page.get_by_text("Your task")).to_have_count(0)
    page.close()


# ------------------------------------------------------------------ 9: similar traces follow the setting


@pytest.fixture(scope="module")
def embedded(served):
    """The study's traces embedded with the real model (the similar-traces panel needs their vectors)."""
    from pipeline.cluster import embed_responses

    with session_scope(served["engine"]) as s:
        embed_responses(s, served["world"].study_id, progress=False)
    return served


def _suggestions(served, on: bool) -> None:
    with session_scope(served["engine"]) as s:
        update_study_settings(s, served["world"].study_id, show_suggestions=on)


def _similar_headers(page) -> list[str]:
    """The similar traces' headers, once the panel is drawn."""
    page.get_by_text("Similar traces", exact=True).wait_for(timeout=30_000)
    headers = page.locator('[data-testid="stExpander"] summary').filter(has_text="similarity")
    expect(headers.first).to_be_visible()
    return headers.all_inner_texts()


@pytest.mark.model
@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_similar_traces_show_grades_and_labels_only_when_the_lead_allows(embedded, browser, size):
    from pipeline.annotation import load_codebook

    served = embedded
    _suggestions(served, False)
    page = _open(browser, served, size, SIMILAR)
    off = _similar_headers(page)
    assert off and not [h for h in off if re.search(r"correct|unlabelled", h)], off  # no grades, no labels
    expect(page.get_by_text(re.compile("nearest labelled traces|No labelled neighbours"))).to_have_count(0)
    _suggestions(served, True)
    page.reload()  # the session survives a reload; the page is drawn with the new setting
    page.get_by_text("Reasoning trace ·").wait_for(timeout=60_000)
    wait_idle(page)
    on = _similar_headers(page)
    names = "|".join(re.escape(m.name) for m in load_codebook().error_modes)
    assert on and all(re.search(rf"· (in)?correct · ({names}|unlabelled)", h) for h in on), on
    expect(page.get_by_text(re.compile("nearest labelled traces|No labelled neighbours")).first).to_be_visible()
    _suggestions(served, False)
    page.close()


# ------------------------------------------------------------------ 10: flags reach the lead


def _go(page, link: str, heading: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name=link, exact=True).click()
    page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
    wait_idle(page)


def _picked(page):
    """The adjudication queue's select box: the response it shows is its value."""
    return page.locator(".st-key-adj_pick [role='combobox']")


def _flag_with_note(page, note: str) -> None:
    page.locator(".st-key-lbl_mode_reasoning_drift label").click()
    wait_idle(page)
    _type(page, "Rationale", note)
    page.get_by_role("button", name="Flag for discussion").click()
    expect(page.get_by_text("All 1 items are labelled.")).to_be_visible(timeout=30_000)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_a_flag_with_its_note_reaches_the_lead_and_is_not_settled(served, browser, size):
    i = SIZES.index(size)
    rid, note = served["items"]["flags"][i], f"Codebook unclear here ({size[0]}): drift or a red flag?"
    page = _open(browser, served, size, FLAGGERS[i])
    _flag_with_note(page, note)
    [ann] = _annotations(served, FLAGGERS[i])
    assert ann.response_id == rid and ann.flagged and ann.rationale == note
    page.close()
    lead = _open(browser, served, size, "lead", ready="Study overview ·")
    _go(lead, "Flagged items", "Flagged items")
    # The grid is drawn on a canvas; its accessible table holds the cells in view, as drawn.
    row = lead.locator('[data-testid="stDataFrame"] tr').filter(has_text=note)
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("open")
    expect(row).to_contain_text(FLAGGERS[i])
    _go(lead, "Adjudication", "Adjudication")
    lead.get_by_role("button", name="Settle agreements").click()
    expect(lead.get_by_text(re.compile(r"\d+ flagged for a lead"))).to_be_visible(timeout=30_000)
    # the two annotators agree, yet the flagged item waits for the lead, with no final label
    pick_option(lead, "adj_pick", re.compile(rf"^response {rid} ·"))
    wait_idle(lead)
    expect(_picked(lead)).to_have_value(re.compile(rf"^response {rid} ·"))
    expect(lead.get_by_text(re.compile(r"2 annotators · unanimous"))).to_be_visible()
    expect(lead.get_by_text("final:")).to_have_count(0)
    with session_scope(served["engine"]) as s:
        assert s.exec(select(FinalLabel).where(FinalLabel.response_id == rid)).first() is None
    lead.close()


# ------------------------------------------------------------------ 14: the lead's landing page and adjudication


def _metric(page, label: str):
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).locator('[data-testid="stMetricValue"]')


def _queue_head(served) -> int:
    from pipeline.agreement import disagreements

    with session_scope(served["engine"]) as s:
        return disagreements(s, served["world"].study_id)[0].response_id


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_lead_lands_on_the_overview_and_a_decision_moves_the_queue_on(served, browser, size):
    page = _open(browser, served, size, "lead", ready="Study overview ·")
    expect(page.get_by_role("heading", name=re.compile("^Study overview"))).to_be_in_viewport()
    expect(page.get_by_text("Progress per annotator")).to_be_visible()
    assert page.get_by_text("No items of this study are assigned to you").count() == 0
    _go(page, "Adjudication", "Adjudication")
    done, waiting = int(_metric(page, "Adjudicated").inner_text()), int(_metric(page, "Waiting").inner_text())
    rid = _queue_head(served)
    expect(_picked(page)).to_have_value(re.compile(rf"^response {rid} ·"))
    pick_option(page, f"adj_modes_{rid}", "Reasoning drift")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Set final labels").click()
    expect(page.get_by_text(f"Response {rid}: Reasoning drift")).to_be_visible(timeout=30_000)
    expect(_metric(page, "Adjudicated")).to_have_text(str(done + 1))
    expect(_metric(page, "Waiting")).to_have_text(str(waiting - 1))
    after = _queue_head(served)
    assert after != rid
    expect(_picked(page)).to_have_value(re.compile(rf"^response {after} ·"))  # the queue moved on
    with session_scope(served["engine"]) as s:
        final = s.exec(select(FinalLabel).where(FinalLabel.response_id == rid)).one()
    assert final.method == "adjudicated" and final.error_modes == ["reasoning_drift"]
    page.close()


# ------------------------------------------------------------------ 1: the assignment's default (last: it assigns to all)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_assignment_leaves_out_answer_only_responses_by_default(served, browser, size):
    answer_only = served["items"]["answer_only"]
    page = _open(browser, served, size, "lead", ready="Study overview ·")
    _go(page, "Assignment", "Assignment")
    expect(page.get_by_text(re.compile("Incorrect responses with a reasoning trace"))).to_be_visible()
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_text(re.compile(r"\d+ item\(s\): \d+ assignment\(s\) added"))).to_be_visible(timeout=60_000)
    left_out = page.get_by_text(f"{len(answer_only)} left out: answer only, no reasoning trace to label")
    expect(left_out).to_be_visible()
    expect(page.get_by_text("Tick 'Also incorrect answer-only responses' to include them")).to_be_visible()
    with session_scope(served["engine"]) as s:
        held = Counter(s.exec(select(Assignment.response_id)).all())
        traced = default_selection(s, served["world"].study_id).response_ids
    assert [held[r] for r in answer_only] == [1, 1]  # only the assignment each had before
    assert traced and all(held[r] >= 2 for r in traced)  # the incorrect ones with a trace: two annotators each
    page.close()
