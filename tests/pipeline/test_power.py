"""Sample size and power of the exact McNemar test (pipeline.power, `python -m pipeline power`).

Published checks: Connor (1987) normal-approximation sample size; the exact power by hand for the
smallest designs and by a brute-force enumeration written independently here (scipy's binomtest on
every 2x2 table); the seeded simulation within its Monte-Carlo error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pipeline.cli import main
from pipeline.errors import DxTraceError
from pipeline.power import (
    check_discordance,
    connor_n,
    connor_power,
    discordance_from_accuracies,
    exact_power,
    sample_size,
    simulated_power,
)


def test_connor_1987_worked_example():
    # Connor RJ (1987), Biometrics 43:207-211, p. 209, as implemented in the calculator of
    # powerandsamplesize.com ("McNemar's Z-test, 2-sided"): p01 = 0.45, p10 = 0.05, alpha 0.05,
    # power 0.80 -> n = 23 pairs (22.01 before rounding up).
    d = check_discordance(0.05, 0.45)
    n = connor_n(d, 0.05, 0.80)
    assert math.ceil(n) == 23
    assert connor_power(23, d, 0.05) >= 0.80 > connor_power(22, d, 0.05)


def test_exact_power_by_hand():
    # With p10 = 1/2 and p01 = 0, a case is discordant with probability 1/2 and every discordant case
    # favours A. At alpha 0.05 the exact test needs 6 discordant cases (2 x 0.5^6 = 0.031 <= 0.05,
    # 2 x 0.5^5 = 0.0625 > 0.05), so with 6 cases the power is P(all 6 discordant) = 0.5^6.
    d = check_discordance(0.5, 0.0)
    assert exact_power(6, d, 0.05) == pytest.approx(0.5**6)
    assert exact_power(5, d, 0.05) == 0.0
    # At the study's alpha 0.01: 8 discordant cases needed (2 x 0.5^8 = 0.0078).
    assert exact_power(7, d, 0.01) == 0.0
    assert exact_power(8, d, 0.01) == pytest.approx(0.5**8)


def _brute_force_power(n: int, p10: float, p01: float, alpha: float) -> float:
    """Every (b, c) table of n cases, its multinomial probability, scipy's exact binomial test."""
    total = 0.0
    for b in range(n + 1):
        for c in range(n + 1 - b):
            if b + c == 0:
                continue
            pmf = stats.multinomial.pmf([b, c, n - b - c], n, [p10, p01, 1 - p10 - p01])
            if stats.binomtest(b, b + c, 0.5).pvalue <= alpha:
                total += pmf
    return total


@pytest.mark.parametrize(
    ("n", "p10", "p01", "alpha"), [(12, 0.3, 0.05, 0.05), (20, 0.1, 0.25, 0.01), (15, 0.2, 0.2 + 1e-9, 0.05)]
)
def test_exact_power_equals_brute_force_enumeration(n, p10, p01, alpha):
    d = check_discordance(p10, p01)
    assert exact_power(n, d, alpha) == pytest.approx(_brute_force_power(n, p10, p01, alpha), abs=1e-10)


def test_simulation_agrees_with_exact_power_within_monte_carlo_error():
    d = discordance_from_accuracies(0.95, 0.85)  # independent correctness
    exact = exact_power(110, d, 0.01)
    sim = simulated_power(110, d, 0.01, n_sim=20_000, seed=4)
    assert abs(sim - exact) < 4 * math.sqrt(exact * (1 - exact) / 20_000)
    assert simulated_power(110, d, 0.01, n_sim=2_000, seed=4) == simulated_power(110, d, 0.01, n_sim=2_000, seed=4)


def test_sample_size_is_the_first_n_reaching_the_power():
    d = check_discordance(0.15, 0.05)
    ss = sample_size(d, 0.05, 0.8)
    assert exact_power(ss.n, d, 0.05) >= 0.8 > exact_power(ss.n - 1, d, 0.05)
    assert ss.n_stable >= ss.n
    assert all(exact_power(m, d, 0.05) >= 0.8 for m in range(ss.n_stable, ss.n_checked + 1, 7))
    # For a moderate design the exact answer is near the normal approximation, a little above it.
    assert ss.connor <= ss.n <= 1.15 * ss.connor


def test_design_from_accuracies():
    # Independent correctness: p10 = pA (1 - pB), p01 = (1 - pA) pB.
    d = discordance_from_accuracies(0.9, 0.8)
    assert (d.p10, d.p01) == (pytest.approx(0.18), pytest.approx(0.08))
    # Agreement 0.9: 10% discordant, split so that p10 - p01 = 0.1.
    d = discordance_from_accuracies(0.9, 0.8, agreement=0.9)
    assert (d.p10, d.p01) == (pytest.approx(0.1), pytest.approx(0.0))
    # Positive correlation means fewer discordant cases, so fewer cases are needed.
    corr = discordance_from_accuracies(0.9, 0.8, correlation=0.3)
    assert corr.discordant < discordance_from_accuracies(0.9, 0.8).discordant
    assert sample_size(corr, 0.01, 0.8).n < sample_size(discordance_from_accuracies(0.9, 0.8), 0.01, 0.8).n
    assert np.isclose(corr.difference, 0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"p_a": 0.9, "p_b": 0.8, "agreement": 0.5}, "impossible table"),
        ({"p_a": 0.9, "p_b": 0.9}, "no difference"),
        ({"p_a": 1.2, "p_b": 0.8}, "between 0 and 1"),
        ({"p_a": 0.9, "p_b": 0.8, "correlation": 0.2, "agreement": 0.9}, "not both"),
    ],
)
def test_impossible_designs_are_refused(kwargs, message):
    with pytest.raises(DxTraceError, match=message):
        discordance_from_accuracies(**kwargs)


def test_cli_sample_size_and_power(capsys):
    assert main(["power", "--accuracy-a", "0.95", "--accuracy-b", "0.85", "--alpha", "0.01", "--power", "0.8"]) == 0
    out = capsys.readouterr().out
    d = discordance_from_accuracies(0.95, 0.85)
    assert str(sample_size(d, 0.01, 0.8).n) in out and "Connor" in out
    assert main(["power", "--p10", "0.1", "--p01", "0.02", "--n", "110", "--simulations", "500", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert f"{exact_power(110, check_discordance(0.1, 0.02), 0.01):.4f}" in out and "simulation" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--accuracy-a", "0.9", "--accuracy-b", "0.8", "--alpha", "1.5"], "--alpha 1.5: must be between 0 and 1"),
        (["--accuracy-a", "0.9", "--accuracy-b", "0.8", "--alpha", "0"], "--alpha 0.0: must be between 0 and 1"),
        (["--accuracy-a", "0.9", "--accuracy-b", "0.8", "--power", "1"], "--power 1.0: must be between 0 and 1"),
        (["--p10", "0.6", "--p01", "0.5"], "p10 + p01 = 1.1"),
        (["--p10", "0.1"], "--p10 and --p01 go together"),
        (["--accuracy-a", "abc", "--accuracy-b", "0.8"], "--accuracy-a 'abc': not a number"),
        (["--accuracy-a", "0.9"], "give --accuracy-a and --accuracy-b"),
        (["--accuracy-a", "0.9", "--accuracy-b", "0.8", "--n", "0"], "--n 0: must be a whole number"),
        (["--p10", "0.1", "--p01", "0.05", "--accuracy-a", "0.9"], "either --p10/--p01"),
    ],
)
def test_cli_bad_flags_are_one_line_exit_2(args, message, capsys):
    assert main(["power", *args]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert captured.out == ""


def test_truncated_power_curve_equals_the_full_sum():
    from pipeline.power._mcnemar import _power_curve

    d = check_discordance(0.12, 0.04)
    curve = _power_curve(400, d, 0.01)
    for n in (1, 17, 150, 400):
        assert curve[n] == pytest.approx(exact_power(n, d, 0.01), abs=1e-13)


def test_too_small_a_difference_is_refused():
    with pytest.raises(DxTraceError, match="more than 50000 cases would be needed"):
        sample_size(check_discordance(0.0101, 0.01), 0.01, 0.8)


def test_cli_refuses_a_hopeless_design_in_one_line(capsys):
    assert main(["power", "--p10", "0.0101", "--p01", "0.01"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: more than 50000 cases would be needed") and "\n" not in err
