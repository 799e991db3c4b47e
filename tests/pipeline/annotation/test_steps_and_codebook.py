"""Pure parts: the codebook file, splitting traces into steps, search and paging."""

from __future__ import annotations

import json

import pytest

from pipeline.annotation import (
    ERROR_MODE_CODES,
    MAX_STEP_CHARS,
    AnnotationInput,
    hit_spans,
    load_codebook,
    n_pages,
    page_bounds,
    parse_codebook,
    search_steps,
    split_steps,
)
from pipeline.errors import InputError
from tests.factories import MEDRBENCH_R1


def test_codebook_v1_has_the_five_modes_with_definition_and_example():
    book = load_codebook("1")
    assert book.version == "1"
    assert book.codes == ERROR_MODE_CODES
    assert book.name_of("red_flag_failure") == "Red-flag recognition failure"
    assert book.mode("priority_inversion").definition.startswith("The correct or must-not-miss diagnosis")
    assert "anchors on an early or peripheral detail" in book.mode("reasoning_drift").definition
    for mode in book.error_modes:
        assert len(mode.definition) > 40 and len(mode.example) > 30
    assert book.mode("other").needs_description and book.mode("no_error").exclusive
    assert len(book.content_hash) == 64


def test_unknown_codebook_version_names_the_file():
    with pytest.raises(InputError, match=r"v9\.toml: version: no codebook version '9' \(shipped: 1\)"):
        load_codebook("9")


def test_bad_codebook_names_each_field():
    text = 'version = "2"\n[[error_mode]]\ncode = "x"\nname = ""\ndefinition = "d"\nexample = "e"\ncolour = 1\n'
    with pytest.raises(InputError) as err:
        parse_codebook(text, "v2.toml")
    msg = str(err.value)
    assert "v2.toml: error_mode[1].name: must be a non-empty string" in msg
    assert "unknown field(s): colour" in msg
    with pytest.raises(InputError, match="v2.toml:2: not valid TOML"):
        parse_codebook("title = 'x'\nversion = \n", "v2.toml")


def test_split_steps_paragraphs_lines_and_long_paragraphs():
    assert split_steps(None) == [] and split_steps("  \n ") == []
    assert split_steps("First.\n\nSecond.\n \n\nThird.") == ["First.", "Second.", "Third."]
    assert split_steps("a\nb\r\nc") == ["a", "b", "c"]
    long = " ".join(f"Sentence number {i} is here." for i in range(300))
    steps = split_steps(long)
    assert len(steps) > 1 and all(len(s) <= MAX_STEP_CHARS for s in steps)
    assert " ".join(steps) == long
    no_spaces = "x" * 4000
    assert [len(s) for s in split_steps(no_spaces)] == [1500, 1500, 1000]


def test_split_steps_on_the_real_traces_keeps_every_word():
    for line in MEDRBENCH_R1.read_text(encoding="utf-8").splitlines()[:50]:
        trace = json.loads(line)["thinking_process"]
        steps = split_steps(trace)
        assert len(steps) >= 2
        assert " ".join(steps).split() == trace.split()


def test_search_and_pages():
    steps = ["Fever and neck stiffness.", "Consider MENINGITIS now.", "Anaemia."]
    assert search_steps(steps, "meningitis") == [2]
    assert search_steps(steps, "neck fever") == [1]
    assert search_steps(steps, "   ") == []
    assert n_pages(0, 25) == 1 and n_pages(51, 25) == 3
    assert page_bounds(51, 3, 25) == (50, 51)
    assert page_bounds(51, 99, 25) == (50, 51)  # clamped
    assert page_bounds(51, 0, 25) == (0, 25)


def test_search_hits_are_the_spans_of_every_query_word():
    text = "Fever and neck stiffness; fever again (FEVER)."
    assert [text[a:b] for a, b in hit_spans(text, "fever")] == ["Fever", "fever", "FEVER"]
    assert [text[a:b] for a, b in hit_spans(text, "neck stiff")] == ["neck", "stiff"]
    assert hit_spans("abcabc", "abc bca") == [(0, 6)]  # overlapping hits merge into one span
    assert hit_spans(text, "   ") == [] and hit_spans(text, "a.b") == []  # a query is text, not a pattern


def test_search_hits_are_drawn_escaped():
    from streamlit.testing.v1 import AppTest

    def script():
        from annotator._ui import show_text_hits

        show_text_hits("<script>alert(1)</script> anaemia <b>x</b>", [(26, 33)])

    at = AppTest.from_function(script).run()
    body = at.get("html")[0].proto.body
    assert "<mark class='dx-hit'>anaemia</mark>" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<b>" not in body and "<script>" not in body


def _problems(labels: AnnotationInput, n_steps: int = 10) -> list[str]:
    return [str(p) for p in labels.problems(load_codebook(), n_steps)]


def test_label_rules():
    assert _problems(AnnotationInput(error_modes=["reasoning_drift"], evidence={"reasoning_drift": [1, 3]})) == []
    assert _problems(AnnotationInput()) == [
        "annotation: error_modes: choose at least one error mode (or flag the item for discussion)"
    ]
    assert _problems(AnnotationInput(flagged=True)) == []
    assert "not in codebook version 1: anchoring" in _problems(AnnotationInput(error_modes=["anchoring"]))[0]
    assert "excludes every other mode" in _problems(AnnotationInput(error_modes=["no_error", "other"]))[0]
    assert any("describe the 'Other' error" in p for p in _problems(AnnotationInput(error_modes=["other"])))
    out = _problems(
        AnnotationInput(
            error_modes=["red_flag_failure"],
            evidence={"red_flag_failure": [0, 11], "reasoning_drift": [2]},
            first_error_step=12,
            severity="fatal",
            confidence=6,
        )
    )
    assert "annotation: evidence.red_flag_failure: step 0 is not a step of this trace (1-10)" in out
    assert "annotation: evidence.red_flag_failure: step 11 is not a step of this trace (1-10)" in out
    assert "annotation: evidence.reasoning_drift: evidence given for a mode that is not chosen" in out
    assert "annotation: first_error_step: step 12 is not a step of this trace (1-10)" in out
    assert "annotation: severity: must be one of minor, moderate, major, critical" in out
    assert "annotation: confidence: must be a whole number from 1 to 5" in out
    assert any("no first erroneous step" in p for p in _problems(AnnotationInput(["no_error"], first_error_step=2)))


def test_normalised_form():
    labels = AnnotationInput(
        error_modes=["red_flag_failure", "other"],
        evidence={"red_flag_failure": [5, 2, 5], "other": []},
        other_description="  dose error ",
        rationale="   ",
    )
    n = labels.normalised()
    assert n["evidence"] == {"red_flag_failure": [2, 5]}
    assert n["other_description"] == "dose error" and n["rationale"] is None
    assert AnnotationInput(["reasoning_drift"], other_description="x").normalised()["other_description"] is None


def test_typed_steps_are_exactly_those_typed():
    import pytest as _pytest

    from pipeline.annotation import format_steps, parse_steps, toggle_step
    from pipeline.errors import InputError

    assert parse_steps("8", 20) == [8]  # never steps 8 and 18
    assert parse_steps("8, 12-14 3", 20) == [3, 8, 12, 13, 14]
    assert parse_steps("", 20) == []
    with _pytest.raises(InputError, match="not a step of this trace \\(1-20\\): 21"):
        parse_steps("21", 20)
    with _pytest.raises(InputError, match="not a response id or range: 'x'"):
        parse_steps("x", 20)
    assert format_steps([14, 2, 12, 13, 5, 6]) == "2, 5, 6, 12-14"
    assert parse_steps(format_steps([1, 2, 3, 9]), 9) == [1, 2, 3, 9]
    assert toggle_step([2, 5], 5) == [2] and toggle_step([2], 5) == [2, 5]


def test_step_marks_name_the_modes_a_step_shows():
    from pipeline.annotation import FIRST_STEP_KEY, evidence_key, load_codebook, mode_key, step_marks

    cb = load_codebook()
    state = {
        mode_key("reasoning_drift"): True,
        evidence_key("reasoning_drift"): [3, 8],
        mode_key("red_flag_failure"): False,  # unticked: its old steps are not shown
        evidence_key("red_flag_failure"): [8],
        FIRST_STEP_KEY: 8,
    }
    assert step_marks(state, cb, 8) == [cb.name_of("reasoning_drift"), "first error"]
    assert step_marks(state, cb, 3) == [cb.name_of("reasoning_drift")]
    assert step_marks(state, cb, 18) == []


def test_previous_in_queue():
    from pipeline.annotation import QueueItem, previous_in_queue

    queue = [QueueItem(1, 30, "done"), QueueItem(2, 10, "pending"), QueueItem(3, 20, "pending")]
    assert previous_in_queue(queue, 20) == 10 and previous_in_queue(queue, 10) == 30
    assert previous_in_queue(queue, 30) is None  # the first item has none
    assert previous_in_queue(queue, None) == 20  # all done: back to the last one
    assert previous_in_queue(queue, 99) is None and previous_in_queue([], None) is None
