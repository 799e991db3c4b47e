"""The statistics against values published in textbooks and papers (sources cited per test).

No expected value here was produced by the code under test.
"""

from __future__ import annotations

import pytest

from pipeline.accuracy import (
    NO_DISCORDANT,
    PairedCounts,
    adjust_p_values,
    mcnemar_test,
    paired_counts,
    paired_difference,
    proportion_ci,
)
from pipeline.errors import DxTraceError

# Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of seven
# methods. Stat Med 1998;17:857-872, Table II: method 3 (Wilson score, no continuity correction)
# and method 5 (Clopper-Pearson "exact"), 95% intervals, to 4 decimals.
NEWCOMBE_1998_TABLE_II = [
    # (successes, n, wilson, clopper-pearson)
    (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20, (0.0000, 0.1611), (0.0000, 0.1684)),
    (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
]


@pytest.mark.parametrize(("x", "n", "wilson", "exact"), NEWCOMBE_1998_TABLE_II)
def test_wilson_and_clopper_pearson_match_newcombe_1998(x, n, wilson, exact):
    w = proportion_ci(x, n, conf_level=0.95)
    assert w.method == "wilson"
    assert (round(w.lower, 4), round(w.upper, 4)) == wilson
    cp = proportion_ci(x, n, conf_level=0.95, method="clopper-pearson")
    assert (round(cp.lower, 4), round(cp.upper, 4)) == exact
    assert w.estimate == pytest.approx(x / n)


def test_empty_proportion_is_reported_as_such():
    p = proportion_ci(0, 0)
    assert p.estimate is None and p.lower is None and p.degenerate == "no cases"
    assert "n/a" in p.format()


def test_invalid_proportion_and_method_are_refused():
    with pytest.raises(DxTraceError, match="invalid proportion"):
        proportion_ci(5, 3)
    with pytest.raises(DxTraceError, match="interval method"):
        proportion_ci(1, 3, method="wald")  # type: ignore[arg-type]


# Agresti A. Categorical Data Analysis, 2nd ed. (Wiley 2002), section 10.1, Table 10.1:
# presidential approval of 1600 people at two surveys: (approve, approve) 794, (approve, disapprove) 150,
# (disapprove, approve) 86, (disapprove, disapprove) 570. McNemar z = -4.17, z^2 = 17.36 (no continuity
# correction); the difference of marginal proportions 0.59 - 0.55 = 0.04 has SE 0.0095 and the Wald 95%
# interval (0.02, 0.06) (Agresti reports it as the second minus the first: (-0.06, -0.02)).
AGRESTI = PairedCounts(both=794, b=150, c=86, neither=570)


def test_mcnemar_chi_square_matches_agresti_presidential_approval():
    res = mcnemar_test(AGRESTI.b, AGRESTI.c, method="chi2")
    assert round(res.statistic, 2) == 17.36
    assert res.p_value < 0.0001
    assert res.degenerate is None


def test_paired_wald_difference_matches_agresti():
    d = paired_difference(AGRESTI, method="wald", conf_level=0.95)
    assert round(d.estimate, 2) == 0.04
    half_width = (d.upper - d.lower) / 2
    assert round(half_width / 1.96, 4) == 0.0095
    assert (round(d.lower, 2), round(d.upper, 2)) == (0.02, 0.06)


# Fagerland MW, Lydersen S, Laake P. The McNemar test for binary matched-pairs data: mid-p and
# asymptotic are better than exact conditional. BMC Med Res Methodol 2013;13:91, worked example
# (Bentur et al. 2009, airway hyper-responsiveness before/after stem cell transplantation, n = 21:
# 1 / 1 / 7 / 12): asymptotic P = 0.034, asymptotic with continuity correction P = 0.077,
# exact conditional P = 0.070, mid-p P = 0.039.
BENTUR = PairedCounts(both=1, b=1, c=7, neither=12)


@pytest.mark.parametrize(
    ("method", "published"),
    [("chi2", 0.034), ("chi2-cc", 0.077), ("exact", 0.070), ("mid-p", 0.039)],
)
def test_mcnemar_forms_match_fagerland_2013(method, published):
    res = mcnemar_test(BENTUR.b, BENTUR.c, method=method)
    assert round(res.p_value, 3) == published


def test_mcnemar_exact_is_the_default():
    assert mcnemar_test(1, 7).method == "exact"


def test_mcnemar_statistics_of_bentur_example():
    # Same paper: the asymptotic statistic is (n12 - n21)^2 / (n12 + n21) = 36 / 8 = 4.5.
    assert mcnemar_test(1, 7, method="chi2").statistic == pytest.approx(4.5)


def test_mcnemar_without_discordant_pairs_is_degenerate():
    for method in ("exact", "mid-p", "chi2", "chi2-cc"):
        res = mcnemar_test(0, 0, method=method)
        assert res.degenerate == NO_DISCORDANT
        assert res.p_value == 1.0 and res.statistic is None


def test_mcnemar_balanced_discordance():
    # b == c: the exact two-sided p is 1 (Fagerland et al. 2013, supplement, eq. 1: "If n12 = n21,
    # the exact p-value equals 1.0"), and the mid-p is 1 - 0.5 * P(X = n12) (same supplement, eq. 2):
    # for n12 = n21 = 1 that is 1 - 0.5 * 0.5 = 0.75.
    assert mcnemar_test(3, 3).p_value == 1.0
    assert mcnemar_test(1, 1, method="mid-p").p_value == pytest.approx(0.75)


# Fagerland MW, Lydersen S, Laake P. Statistical Analysis of Contingency Tables (CRC 2017), chapter 8,
# and Recommended tests and confidence intervals for paired binomial proportions, Stat Med 2014;33:2850:
# complete response before/after consolidation therapy (Cavo et al. 2012), 59 / 6 / 16 / 80, n = 161.
# Newcombe square-and-add interval: estimate -0.0621, 95% CI -0.1186 to -0.0046.
CAVO = PairedCounts(both=59, b=6, c=16, neither=80)


def test_newcombe_paired_interval_matches_fagerland_cavo_example():
    d = paired_difference(CAVO, conf_level=0.95)
    assert d.method == "newcombe"
    assert round(d.estimate, 4) == -0.0621
    assert (round(d.lower, 4), round(d.upper, 4)) == (-0.1186, -0.0046)


def test_paired_difference_of_empty_table():
    d = paired_difference(PairedCounts(0, 0, 0, 0))
    assert d.estimate is None and d.format() == "n/a"


def test_paired_counts_from_sequences():
    counts = paired_counts([True, True, False, False, True], [True, False, True, False, False])
    assert counts == PairedCounts(both=1, b=2, c=1, neither=1)
    with pytest.raises(DxTraceError):
        paired_counts([True], [True, False])


# Benjamini Y, Hochberg Y. Controlling the false discovery rate. J R Stat Soc B 1995;57:289-300,
# section 4.1: 15 p-values from Neuhaus et al. (1992). At level 0.05 the FDR procedure rejects the four
# smallest; the Bonferroni-type procedures reject three (Holm's step-down lies between Bonferroni and
# Hochberg's step-up, both of which the paper reports rejecting three).
NEUHAUS = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719,
           0.6528, 0.7590, 1.000]  # fmt: skip


def test_benjamini_hochberg_rejects_four_of_neuhaus():
    adj = adjust_p_values(NEUHAUS, alpha=0.05, method="bh")
    assert sum(adj.reject) == 4
    assert adj.reject[:4] == (True, True, True, True)


def test_holm_rejects_three_of_neuhaus():
    adj = adjust_p_values(NEUHAUS, alpha=0.05, method="holm")
    assert sum(adj.reject) == 3
    # Holm 1979: the smallest p is compared with alpha / m, i.e. its adjusted value is m * p.
    assert adj.p_values[0] == pytest.approx(15 * 0.0001)


def test_no_correction_rejects_at_alpha():
    adj = adjust_p_values([0.008, 0.012], alpha=0.01, method=None)
    assert adj.reject == (True, False) and adj.p_values == (0.008, 0.012)
    with pytest.raises(DxTraceError, match="alpha"):
        adjust_p_values([0.1], alpha=1.5, method=None)


# Newcombe (1998), Table II, method 4: the Wilson score interval with continuity correction, 95%.
NEWCOMBE_1998_METHOD_4 = [
    (81, 263, (0.2535, 0.3682)),
    (15, 148, (0.0598, 0.1644)),
    (0, 20, (0.0000, 0.2005)),
    (1, 29, (0.0018, 0.1963)),
]


@pytest.mark.parametrize(("x", "n", "published"), NEWCOMBE_1998_METHOD_4)
def test_wilson_with_continuity_correction_matches_newcombe_1998(x, n, published):
    p = proportion_ci(x, n, conf_level=0.95, method="wilson-cc")
    assert p.method == "wilson-cc"
    assert (round(p.lower, 4), round(p.upper, 4)) == published
    # The correction widens Wilson's interval on both sides.
    w = proportion_ci(x, n, conf_level=0.95)
    assert p.lower <= w.lower and p.upper >= w.upper


@pytest.mark.parametrize(("x", "n"), [(81, 263), (15, 148), (1, 29), (0, 20), (20, 20)])
def test_jeffreys_interval_is_the_beta_posterior_interval(x, n):
    # Jeffreys: the central interval of Beta(x + 1/2, n - x + 1/2), with the bound at x = 0 (x = n) set to
    # 0 (1) (Brown, Cai & DasGupta 2001, Statistical Science 16:101, sec. 4.1.2). No published table of
    # these four cases was at hand, so the check is against the definition (scipy's beta quantiles).
    from scipy import stats

    p = proportion_ci(x, n, conf_level=0.95, method="jeffreys")
    lo, hi = stats.beta.ppf([0.025, 0.975], x + 0.5, n - x + 0.5)
    assert p.lower == (0.0 if x == 0 else pytest.approx(lo, abs=1e-12))
    assert p.upper == (1.0 if x == n else pytest.approx(hi, abs=1e-12))


def test_signed_mcnemar_z_matches_agresti():
    # Agresti (2002), section 10.1: z = -4.17 for the second survey minus the first, i.e. +4.17 for
    # b = 150 (approve, then disapprove) against c = 86: positive when A (the first) is right more often.
    res = mcnemar_test(AGRESTI.b, AGRESTI.c, method="chi2")
    assert round(res.z, 2) == 4.17
    assert res.z**2 == pytest.approx(res.statistic)
    assert mcnemar_test(AGRESTI.c, AGRESTI.b).z == pytest.approx(-res.z)


def test_signed_mcnemar_z_with_continuity_correction_matches_armitage_berry():
    # Armitage & Berry (1994), p. 127, as worked by StatsDirect: two culture media on 50 sputum specimens,
    # b = 12 (growth on A only), c = 2: Yates-corrected chi-square 5.785714, exact two-sided P = 0.0129.
    res = mcnemar_test(12, 2)
    assert res.z_cc**2 == pytest.approx(5.785714, abs=1e-6)
    assert res.z_cc > 0 and round(res.p_value, 4) == 0.0129
    assert mcnemar_test(12, 2, method="chi2-cc").statistic == pytest.approx(5.785714, abs=1e-6)
    assert mcnemar_test(0, 0).z is None and mcnemar_test(3, 3).z == 0.0
