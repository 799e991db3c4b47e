"""Time to open the next item and to save a label with 10,000 responses of 25,000-character traces.

    .venv/bin/python bench/bench_annotator.py [--responses 10000] [--chars 25000] [--db URL] [--repeats 20] [--browser]

Builds a study on the shipped MedR-Bench cases whose responses carry real DeepSeek-R1 traces, concatenated
to at least --chars characters each, assigns every response to two of four annotators (5,000 items each),
then measures, each as the median and the 90th percentile over --repeats items:
  logic    next_response_id + load_item + progress (what the view reads), and save_annotation
  page     the whole Streamlit script (sign-in state, sidebar, annotation view) under AppTest: open, then save & next
  browser  (--browser) in Debian's chromium: from Ctrl+Enter on a labelled item to the next item on screen
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
    opened, saved = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        at.run()  # the page as it opens on the current item
        opened.append(time.perf_counter() - t0)
        at.checkbox(key="lbl_mode_red_flag_failure").check()
        t0 = time.perf_counter()
        at.button(key="save").click().run()  # save, and draw the next item
        saved.append(time.perf_counter() - t0)
        assert not at.exception and not at.error
    return [stats("page: open the item (server)", opened), stats("page: save & next (server)", saved)]


def bench_browser(url: str, repeats: int) -> list[str]:
    from playwright.sync_api import sync_playwright

    with serve_app(url) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
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
    return [stats("browser: save & next item shown", times), f"browser: key presses lost and repeated: {lost}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--responses", type=int, default=10_000)
    ap.add_argument("--chars", type=int, default=25_000)
    ap.add_argument("--db", help="database URL (default: a new SQLite file in a temporary folder)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--browser", action="store_true", help="also time it in the real browser")
    args = ap.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='dxtrace-bench-')) / 'bench.db'}"
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
