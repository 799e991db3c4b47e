"""Validation statistics on labels with known agreement."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from pipeline.signals import NOT_ENOUGH, validate, validation_table


def test_perfect_agreement():
    x = [True] * 6 + [False] * 14
    v = validate(x, x, n_boot=200)
    assert (v.tp, v.fp, v.fn, v.tn) == (6, 0, 0, 14)
    assert v.sensitivity.value == 1.0 and v.ppv.value == 1.0 and v.kappa.value == pytest.approx(1.0)
    assert v.sensitivity.low == 1.0 and v.kappa.n == 20


def test_known_table_matches_reference_and_ci_covers_it():
    # tp=8, fp=2, fn=4, tn=6
    x = [True] * 8 + [True] * 2 + [False] * 4 + [False] * 6
    y = [True] * 8 + [False] * 2 + [True] * 4 + [False] * 6
    v = validate(x, y, n_boot=1000, seed=1)
    assert v.sensitivity.value == pytest.approx(8 / 12)
    assert v.ppv.value == pytest.approx(8 / 10)
    assert v.kappa.value == pytest.approx(cohen_kappa_score(x, y))
    for stat in (v.sensitivity, v.ppv, v.kappa):
        assert stat.low <= stat.value <= stat.high
    assert v.sensitivity.n == 12 and v.ppv.n == 10


def test_opposite_labels_give_negative_kappa():
    x = [True, False] * 10
    y = [False, True] * 10
    v = validate(x, y, n_boot=100)
    assert v.kappa.value == pytest.approx(-1.0)
    assert v.sensitivity.value == 0.0


def test_too_few_labels_say_so():
    v = validate([True, False, True], [True, False, False])
    assert v.sensitivity.value is None and v.sensitivity.note == NOT_ENOUGH
    assert NOT_ENOUGH in v.kappa.text()
    # Enough responses but the mode was never labelled: sensitivity cannot be estimated.
    v = validate([True] * 3 + [False] * 17, [False] * 20, n_boot=50)
    assert v.sensitivity.value is None and v.ppv.value == 0.0


def test_table_uses_only_labelled_responses_with_a_decided_signal():
    signals = pd.DataFrame(
        {
            "response_id": list(range(1, 14)),
            "signal": ["gold_dropped"] * 13,
            "error_mode": ["priority_inversion"] * 13,
            "fired": pd.array([True] * 5 + [False] * 6 + [None, True], dtype="boolean"),
        }
    )
    finals = pd.DataFrame(
        {
            "response_id": list(range(1, 13)),  # 13 has no final label; 12's signal is undecided
            "error_modes": [["priority_inversion"]] * 4 + [["other"]] * 7 + [["priority_inversion"]],
        }
    )
    (v,) = validation_table(signals, finals, n_boot=100)
    assert v.n == 11 and (v.tp, v.fp, v.fn, v.tn) == (4, 1, 0, 6)
