"""Actions per labelled item (before and after issue 16), and the time to open the next item and to save a
label with 10,000 responses of 25,000-character traces.

    .venv/bin/python bench/bench_annotator.py [--responses 10000] [--chars 25000] [--db URL | --postgres]
                                              [--repeats 20] [--browser] [--actions-only]

Builds a study on the shipped MedR-Bench cases whose responses carry real DeepSeek-R1 traces, concatenated
to at least --chars characters each, assigns every response to two of four annotators (5,000 items each),
then measures, each as the median and the 90th percentile over --repeats items:
  logic    next_response_id + load_item + progress (what the view reads), and save_annotation
  page     the whole Streamlit script (sign-in state, sidebar, annotation view) under AppTest: open, then save & next
  browser  (--browser) in Debian's chromium: from Ctrl+Enter on a labelled item to the next item on screen,
           and the "after" action sequence below replayed on an item, checked against what is stored
The actions per item are counted for one task: label an item with one error mode, two evidence steps
(3 and 12), the first erroneous step (3), severity major and confidence 4, then save and go on (a
rationale, typed text, is left out). Each key press (a chord such as Ctrl+Enter is one) and each click
is one action; scrolling and reading are not counted (they are the same in both flows).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import select  # noqa: E402

from annotator.serve import serve_app  # noqa: E402
from db.engine import make_engine, session_scope  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Case, Response, utcnow  # noqa: E402
from pipeline.annotation import (  # noqa: E402
    AnnotationInput,
    annotator_queue,
    assign,
    create_annotator,
    load_item,
    next_response_id,
    progress,
    save_annotation,
)
from tests._browser import ARGS, CHROMIUM  # noqa: E402
from tests.factories import MEDRBENCH_R1, _run, get_or_add_model, make_study, shipped_case_set  # noqa: E402

PASSWORD = "bench password 1"

# The flow before issue 16, counted from the UI at commit f9ed2e0 (the last before the issue-16 work was
# merged; annotator/views/annotate.py there): evidence and the first step were Streamlit select boxes
# (a multiselect of "Step n" per mode, a selectbox for the first step) and severity and confidence had no
# keys. Typing a number into the multiselect filters it (8 also shows 18), and Enter there picked
# "Select all matches", so each step is chosen with a click on its option.
BEFORE = [
    ("key", "1: tick reasoning drift"),
    ("click", "open the evidence multiselect"),
    ("key", "type 3 (filters: Step 3, Step 13)"),
    ("click", "click the option Step 3"),
    ("key", "type 1"),
    ("key", "type 2 (filters: Step 12)"),
    ("click", "click the option Step 12"),
    ("click", "open the first-step select box"),
    ("key", "type 3"),
    ("click", "click the option Step 3"),
    ("click", "severity: major"),
    ("click", "confidence: 4"),
    ("key", "Ctrl+Enter: save & next"),
]
# The flow now (annotator/views/annotate.py SHORTCUTS): with step 3, then step 12, in view.
AFTER = [
    ("key", "1: tick reasoning drift"),
    ("key", "M: step 3 (in view) is evidence"),
    ("key", "E: step 3 is the first error"),
    ("key", "M: step 12 (in view) is evidence"),
    ("key", "9: severity major"),
    ("key", "Alt+4: confidence 4"),
    ("key", "Ctrl+Enter: save & next"),
]
# What bench_browser presses, each with what a person sees before the next key (a CSS selector, or
# (selector, text) for a field's value).
AFTER_KEYS = [
    ("1", ".st-key-lbl_evtext_reasoning_drift input"),
    ("m@3", (".st-key-lbl_evtext_reasoning_drift input", "3")),
    ("e@3", (".st-key-lbl_first_step input", "3")),
    ("m@12", (".st-key-lbl_evtext_reasoning_drift input", "3, 12")),
    ("9", ".st-key-lbl_severity input[type='radio']:checked"),
    ("Alt+4", ".st-key-lbl_confidence input[type='radio']:checked"),
    ("Control+Enter", None),
]


def actions_report() -> list[str]:
    out = []
    for name, flow in (("before (f9ed2e0, counted from the UI)", BEFORE), ("after (now)", AFTER)):
        keys = sum(kind == "key" for kind, _ in flow)
        out.append(f"actions per item, {name:<38} {len(flow):3d} ({keys} keys, {len(flow) - keys} clicks)")
    return out


def build(url: str, n: int, chars: int) -> tuple[int, dict[str, int]]:
    engine = make_engine(url)
    upgrade(engine)
    rows = [json.loads(line) for line in MEDRBENCH_R1.read_text(encoding="utf-8").splitlines()]
    traces = [r["thinking_process"] for r in rows]
    t0 = time.perf_counter()
    with session_scope(engine) as s:
        study = make_study(s, "bench")
        case_set = shipped_case_set(s, "medrbench")
        model = get_or_add_model(s, study, "DeepSeek-R1", is_reasoning=True)
        run = _run(s, study, model, case_set)
        cases = list(s.exec(select(Case.id).where(Case.case_set_id == case_set.id)))
        batch = []
        now = utcnow()
        for i in range(n):
            parts, j = [], i
            while sum(len(p) for p in parts) < chars:  # real trace text, different mix per response
                parts.append(traces[j % len(traces)])
                j += 7
            batch.append(
                {"run_id": run.id, "case_id": cases[i % len(cases)], "model_id": model.id, "repeat": i // len(cases),
                 "trace": "\n\n".join(parts), "answer": rows[i % len(rows)]["content"], "diagnoses": [],
                 "created_at": now}
            )  # fmt: skip
            if len(batch) == 500:
                s.execute(insert(Response), batch)
                batch = []
        if batch:
            s.execute(insert(Response), batch)
        ids = list(s.exec(select(Response.id).where(Response.run_id == run.id)))
        people = {f"ann{i}": create_annotator(s, f"ann{i}", PASSWORD, "annotator").id for i in range(1, 5)}
        assign(s, study.id, response_ids=ids, annotator_ids=list(people.values()), per_item=2, seed=1)
        study_id = study.id
    print(f"built {n} responses of >= {chars} characters in {time.perf_counter() - t0:.0f} s")
    engine.dispose()
    return study_id, people


def stats(name: str, seconds: list[float]) -> str:
    ms = sorted(x * 1000 for x in seconds)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return f"{name:<34} median {statistics.median(ms):8.1f} ms   p90 {p90:8.1f} ms   (n={len(ms)})"


def bench_logic(url: str, study_id: int, annotator_id: int, repeats: int) -> list[str]:
    engine = make_engine(url)
    opened, saved = [], []
    current = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        with session_scope(engine) as s:
            current = next_response_id(s, study_id, annotator_id, after=current)
            item = load_item(s, study_id, current, annotator_id)
            progress(s, study_id, annotator_id)
        opened.append(time.perf_counter() - t0)
        assert len("".join(item.steps)) >= 20_000
        labels = AnnotationInput(["reasoning_drift"], evidence={"reasoning_drift": [2, 3]}, first_error_step=2)
        t0 = time.perf_counter()
        with session_scope(engine) as s:
            save_annotation(s, study_id=study_id, response_id=current, annotator_id=annotator_id, labels=labels)
        saved.append(time.perf_counter() - t0)
    engine.dispose()
    return [stats("logic: open next item", opened), stats("logic: save a label", saved)]


def _script():
    from annotator._shell import main

    main()


def bench_page(url: str, repeats: int) -> list[str]:
    from streamlit.testing.v1 import AppTest

    os.environ["DXTRACE_DB"] = url
    at = AppTest.from_function(_script, default_timeout=120).run()
    at.text_input(key="sign_in_username").input("ann2")
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    opened, saved, opened_cpu, saved_cpu = [], [], [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()  # the page as it opens on the current item
        opened.append(time.perf_counter() - t0)
        opened_cpu.append(time.process_time() - c0)
        at.checkbox(key="lbl_mode_red_flag_failure").check()
        t0, c0 = time.perf_counter(), time.process_time()
        at.button(key="save").click().run()  # save, and draw the next item
        saved.append(time.perf_counter() - t0)
        saved_cpu.append(time.process_time() - c0)
        assert not at.exception and not at.error
    # CPU time of this process (the script's thread and AppTest's own work): what the server spends,
    # whatever else the machine runs; wall time counts the waits for a shared CPU too.
    return [
        stats("page: open the item (server)", opened),
        stats("page: save & next (server)", saved),
        stats("page: open the item (server CPU)", opened_cpu),
        stats("page: save & next (server CPU)", saved_cpu),
    ]


def _to_line(page, n: int) -> None:
    """Scroll so that step n crosses the line a third down the window (the step in view)."""
    page.locator(f".st-key-step_{n}").evaluate(
        """(el) => { const main = document.querySelector('[data-testid="stMain"]');
                     main.scrollTop += el.getBoundingClientRect().top - (window.innerHeight / 3 - 10); }"""
    )


def replay_after(page, url: str, username: str) -> str:
    """Press AFTER_KEYS on the item on screen and check what was stored: the count is of a flow that works."""
    from tests._browser import wait_idle

    page.wait_for_function("window.__dxShortcuts === true")
    wait_idle(page)
    page.get_by_text("Reasoning trace ·").first.click()  # focus on the page, not a field
    from playwright.sync_api import expect

    presses = 0
    for key, seen in AFTER_KEYS:
        name, _, step = key.partition("@")
        if step:
            _to_line(page, int(step))
        wait_idle(page)
        page.keyboard.press(name)
        presses += 1
        if isinstance(seen, tuple):
            expect(page.locator(seen[0])).to_have_value(seen[1], timeout=60_000)
        elif seen:
            page.locator(seen).first.wait_for(timeout=60_000)
    page.get_by_text("Saved.").first.wait_for(timeout=60_000)
    engine = make_engine(url)
    with session_scope(engine) as s:
        from db.models import Annotation, Annotator

        me = s.exec(select(Annotator).where(Annotator.username == username)).one()
        ann = s.exec(select(Annotation).where(Annotation.annotator_id == me.id).order_by(Annotation.id.desc())).first()
        got = (ann.error_modes, ann.evidence, ann.first_error_step, ann.severity, ann.confidence)
    engine.dispose()
    want = (["reasoning_drift"], {"reasoning_drift": [3, 12]}, 3, "major", 4)
    if got != want:
        raise SystemExit(f"the replayed flow stored {got}, not {want}")
    return f"browser: the 'after' flow replayed: {presses} key presses, stored labels as intended"


def bench_browser(url: str, repeats: int) -> list[str]:
    from playwright.sync_api import sync_playwright

    from tests._browser import new_app_page

    with serve_app(url) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = new_app_page(browser, viewport={"width": 1280, "height": 720})
        page.goto(base)
        page.get_by_label("Username").fill("ann4")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.keyboard.press("Enter")
        page.get_by_text("Reasoning trace ·").wait_for(timeout=120_000)
        replayed = replay_after(page, url, "ann4")
        page.close()
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(base)
        page.get_by_label("Username").fill("ann3")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.keyboard.press("Enter")
        page.get_by_text("Reasoning trace ·").wait_for(timeout=120_000)
        times, lost = [], 0
        for k in range(1, repeats + 1):
            page.get_by_text(f"Item {k} of ").first.wait_for(timeout=120_000)
            page.get_by_text(f"Item {k} of ").first.click()
            page.wait_for_function("window.__dxShortcuts === true")
            page.keyboard.press("1")
            try:
                page.locator(".st-key-lbl_evtext_reasoning_drift").wait_for(timeout=15_000)
            except Exception:  # lost: press again
                lost += 1
                page.keyboard.press("1")
                page.locator(".st-key-lbl_evtext_reasoning_drift").wait_for(timeout=60_000)
            t0 = time.perf_counter()
            page.keyboard.press("Control+Enter")
            try:
                page.get_by_text(f"Item {k + 1} of ").first.wait_for(timeout=15_000)
            except Exception:  # the key press was lost: press again, and do not count this one
                lost += 1
                page.keyboard.press("Control+Enter")
                page.get_by_text(f"Item {k + 1} of ").first.wait_for(timeout=120_000)
                continue
            page.get_by_text("Step 1", exact=True).first.wait_for()
            times.append(time.perf_counter() - t0)
            print(f"  browser item {k}: {times[-1] * 1000:.0f} ms", flush=True)
        browser.close()
    return [
        replayed,
        stats("browser: save & next item shown", times),
        f"browser: key presses lost and repeated: {lost}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--responses", type=int, default=10_000)
    ap.add_argument("--chars", type=int, default=25_000)
    ap.add_argument("--db", help="database URL (default: a new SQLite file in a temporary folder)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--postgres", action="store_true", help="on a temporary PostgreSQL server (Debian's postgresql)")
    ap.add_argument("--browser", action="store_true", help="also time it in the real browser")
    ap.add_argument("--actions-only", action="store_true", help="only the actions per item")
    args = ap.parse_args()
    print("\n".join(actions_report()), flush=True)
    if args.actions_only:
        return
    server = None
    if args.postgres:
        from tests._postgres import PostgresServer

        root = Path(tempfile.mkdtemp(prefix="dxtrace-bench-pg-"))
        os.chmod(root, 0o755)
        server = PostgresServer(root / "pg").start()
        url = server.create_database("bench")
    else:
        url = args.db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='dxtrace-bench-')) / 'bench.db'}"
    try:
        run(args, url)
    finally:
        if server is not None:
            server.stop()


def run(args: argparse.Namespace, url: str) -> None:
    study_id, people = build(url, args.responses, args.chars)
    engine = make_engine(url)
    with session_scope(engine) as s:
        queue = annotator_queue(s, study_id, people["ann1"])
    engine.dispose()
    print(f"{args.responses} responses; {len(queue)} items in each annotator's queue")
    print("\n".join(bench_logic(url, study_id, people["ann1"], args.repeats)), flush=True)
    print("\n".join(bench_page(url, args.repeats)), flush=True)
    if args.browser:
        print("\n".join(bench_browser(url, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
