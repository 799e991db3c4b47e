"""Property over the 400 shipped DeepSeek-R1 MedR-Bench traces: every quote a signal shows is an exact
substring of the stored trace (and of its step) or of the vignette."""

from __future__ import annotations

import json

import pytest

from pipeline.signals import flags_in_vignette, get_signal, load_shipped, quote_ok
from pipeline.signals._plugins.drift import _first_sentence
from pipeline.signals._registry import Evidence
from tests.factories import MEDRBENCH_R1
from tests.pipeline.signals.conftest import make_input

CASES = {}


def _vignettes() -> dict[str, str]:
    if not CASES:
        from tests.factories import DATA

        for line in (DATA / "cases" / "medrbench" / "cases.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            CASES[row["id"]] = row
    return CASES


@pytest.fixture(scope="module")
def shipped():
    rows = [json.loads(line) for line in MEDRBENCH_R1.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 400
    return rows


def test_every_quote_of_the_text_signals_is_exact(shipped):
    flags = load_shipped()
    vignettes = _vignettes()
    checked = 0
    for row in shipped:
        case = vignettes.get(row["id"], {})
        vignette = case["case_summary"]
        correct = row["accuracy"] in (True, "True")
        item = make_input(
            row["thinking_process"], vignette=vignette, gold=row["gold_diagnosis"], correct=correct,
            rank=1 if correct else None, diagnoses=[row["gold_diagnosis"]] if correct else [],
            red_flags=flags_in_vignette(vignette, flags),
        )  # fmt: skip
        for name in ("gold_dropped", "ranked_below_dismissed", "red_flags_ignored", "repetition_loop"):
            for e in get_signal(name).compute(item).evidence:
                assert quote_ok(e, item.trace, item.vignette, item.steps), (row["id"], name, e)
                checked += 1
        # The drift signal quotes the first sentence of the step where the trace leaves the case.
        for number, step in enumerate(item.steps, 1):
            e = Evidence(number, "trace", _first_sentence(step), "")
            assert quote_ok(e, item.trace, item.vignette, item.steps), (row["id"], number)
            checked += 1
    assert checked > 3000  # about ten steps per trace, plus the evidence of every signal


def test_a_quote_not_in_the_text_fails_the_check():
    item = make_input("Appendicitis is possible.\n\nIt is less likely.")
    assert not quote_ok(Evidence(1, "trace", "Appendicitis is probable.", ""), item.trace, item.vignette, item.steps)
    assert not quote_ok(Evidence(2, "trace", "Appendicitis is possible.", ""), item.trace, item.vignette, item.steps)
    assert not quote_ok(Evidence(None, "vignette", "A patient", ""), item.trace, "", item.steps)
    assert quote_ok(Evidence(1, "trace", "Appendicitis is possible.", ""), item.trace, item.vignette, item.steps)
