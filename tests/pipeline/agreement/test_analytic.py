"""Analytic standard errors, z, p and asymptotic intervals against published figures.

Sources (each expected number below is printed in the source, not produced by this code):
- Gwet KL (2014), Handbook of Inter-Rater Reliability, 4th ed., and his irrCAC package: the figures
  irrCAC prints for its data sets (reproduced in the tests of the Python port afergadis/irrCAC,
  test/unit/irrCAC/raw/test_{fleiss,gwet,krippendorff,conger,bp}.py), to 3 decimals. irrCAC's
  intervals and p-values use Student's t with n - 1 degrees of freedom.
- SAS PROC FREQ (AGREE option), the printout reproduced in statsmodels' test_inter_rater.py
  ("comparison to printout of a SAS example", table10): simple and weighted kappa with ASE,
  95% limits, ASE under H0, Z and two-sided p.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from pipeline.agreement import compute_agreement, value_counts
from pipeline.agreement._analytic import (
    ac1_analytic,
    bp_analytic,
    cohen_analytic,
    conger_analytic,
    fleiss_analytic,
    krippendorff_analytic,
    weight_matrix,
)
from tests.pipeline.agreement._data import (
    FLEISS_1971,
    FLP_TABLE_18_1,
    IRRCAC_4RATERS,
    IRRCAC_5OBSERVERS,
    IRRCAC_BEN_GERRY,
    IRRCAC_G1G2,
    IRRCAC_GENDER,
    KRIPPENDORFF_C,
    codes_of,
    from_matrix,
)

DATA = {
    "raw.4raters": IRRCAC_4RATERS,
    "raw.5observers": IRRCAC_5OBSERVERS,
    "raw.g1g2": IRRCAC_G1G2,
    "raw.gender": IRRCAC_GENDER,
    "raw.ben.gerry": IRRCAC_BEN_GERRY,
}

# (data, coefficient) -> (pa, pe, value, se, ci_low, ci_high, p) as irrCAC prints them; None = not printed.
IRRCAC = {
    ("raw.4raters", "fleiss"): (0.818, 0.239, 0.761, 0.153, 0.424, 1.0, 0.00042),
    ("raw.4raters", "ac1"): (0.818, 0.190, 0.775, 0.143, 0.461, 1.0, 0.00021),
    ("raw.4raters", "krippendorff"): (0.805, 0.240, 0.743, 0.146, 0.419, 1.0, 0.00046),
    ("raw.4raters", "conger"): (0.818, 0.233, 0.763, None, 0.435, 1.0, 0.00034),
    ("raw.4raters", "bp"): (0.818, 0.200, 0.773, 0.145, 0.454, 1.0, None),
    ("raw.5observers", "fleiss"): (0.616, 0.291, 0.458, 0.120, 0.199, 0.716, 0.00195),
    ("raw.5observers", "ac1"): (0.616, 0.236, 0.497, 0.122, 0.235, 0.758, 0.00114),
    ("raw.5observers", "krippendorff"): (0.627, 0.282, 0.481, 0.114, 0.237, 0.724, 0.00083),
    ("raw.5observers", "conger"): (0.616, 0.276, 0.469, 0.117, 0.219, 0.719, 0.00126),
    ("raw.5observers", "bp"): (0.616, 0.250, 0.487, 0.121, 0.228, 0.747, None),
    ("raw.g1g2", "fleiss"): (0.744, 0.252, 0.657, 0.150, 0.333, 0.981, 0.00074),
    ("raw.g1g2", "ac1"): (0.744, 0.187, 0.685, 0.134, 0.396, 0.973, 0.00019),
    ("raw.g1g2", "krippendorff"): (0.728, 0.261, 0.632, 0.150, 0.306, 0.958, 0.00119),
    ("raw.g1g2", "conger"): (0.744, 0.249, 0.659, 0.146, 0.343, 0.974, 0.00059),
    ("raw.g1g2", "bp"): (0.744, 0.200, 0.679, 0.136, 0.385, 0.974, None),
    ("raw.gender", "fleiss"): (0.456, 0.375, 0.129, 0.141, -0.172, 0.430, 0.37449),
    ("raw.gender", "ac1"): (0.456, 0.312, 0.208, 0.091, 0.014, 0.403, 0.03776),
    ("raw.gender", "krippendorff"): (0.465, 0.375, 0.143, 0.141, -0.158, 0.445, 0.32472),
    ("raw.gender", "conger"): (0.456, 0.347, 0.166, 0.121, -0.094, 0.426, 0.19309),
    ("raw.gender", "bp"): (0.456, 0.333, 0.183, 0.102, -0.035, 0.402, None),
    ("raw.ben.gerry", "fleiss"): (0.727, 0.222, 0.649, 0.191, 0.228, 1.0, 0.00599),
    ("raw.ben.gerry", "ac1"): (0.727, 0.194, 0.661, 0.184, 0.257, 1.0, 0.00420),
    ("raw.ben.gerry", "krippendorff"): (0.740, 0.223, 0.665, 0.180, 0.264, 1.0, 0.00416),
    ("raw.ben.gerry", "conger"): (0.727, 0.205, 0.657, 0.179, 0.262, 1.0, 0.00374),
    ("raw.ben.gerry", "bp"): (0.727, 0.200, 0.659, 0.185, 0.251, 1.0, None),
}

# raw.4raters with irrCAC's linear and quadratic weights (categories 1-5).
IRRCAC_WEIGHTED = {
    ("linear", "fleiss"): (0.939, 0.667, 0.818, 0.149, 0.491, 0.00018),
    ("linear", "ac1"): (0.939, 0.571, 0.859, 0.117, 0.600, 0.00002),
    ("linear", "krippendorff"): (0.935, 0.674, 0.800, 0.135, 0.499, 0.00015),
    ("linear", "conger"): (0.939, 0.675, 0.814, 0.145, 0.494, 0.00016),
    ("linear", "bp"): (0.939, 0.600, 0.848, 0.123, 0.577, None),
    ("quadratic", "fleiss"): (0.975, 0.818, 0.865, 0.146, 0.544, 0.00010),
    ("quadratic", "ac1"): (0.975, 0.714, 0.914, 0.104, 0.685, 0.000003),
    ("quadratic", "krippendorff"): (0.974, 0.825, 0.849, 0.129, 0.561, 0.00006),
    ("quadratic", "conger"): (0.975, 0.827, 0.858, 0.144, 0.541, 0.00009),
    ("quadratic", "bp"): (0.975, 0.750, 0.902, 0.111, 0.657, None),
}

FUNCTIONS = {
    "fleiss": lambda codes, q, w: fleiss_analytic(value_counts(codes, q), w),
    "ac1": lambda codes, q, w: ac1_analytic(value_counts(codes, q), w),
    "krippendorff": lambda codes, q, w: krippendorff_analytic(value_counts(codes, q), w),
    "conger": lambda codes, q, w: conger_analytic(codes, q, w),
    "bp": lambda codes, q, w: bp_analytic(value_counts(codes, q), w),
}


def _r3(x: float) -> float:
    return round(x + 0.0, 3)


@pytest.mark.parametrize(("data", "coef"), list(IRRCAC))
def test_matches_irrcac(data, coef):
    pa, pe, value, se, lo, hi, p = IRRCAC[(data, coef)]
    codes, q = codes_of(DATA[data])
    a = FUNCTIONS[coef](codes, q, None)
    assert (_r3(a.pa), _r3(a.pe), _r3(a.value)) == (pa, pe, value)
    if se is not None:
        assert _r3(a.se) == se
    assert (_r3(a.ci_low), _r3(a.ci_high)) == (lo, hi)
    if p is not None:
        assert round(a.p_value, 5) == pytest.approx(p, abs=1e-5)
    assert a.z == pytest.approx(a.value / a.se)
    assert a.df == codes.shape[1] - (1 if coef != "krippendorff" else 1 + _single_rated(codes))


def _single_rated(codes: np.ndarray) -> int:
    return int(((~np.isnan(codes)).sum(axis=0) < 2).sum())


@pytest.mark.parametrize(("weighting", "coef"), list(IRRCAC_WEIGHTED))
def test_weighted_matches_irrcac(weighting, coef):
    pa, pe, value, se, lo, p = IRRCAC_WEIGHTED[(weighting, coef)]
    codes, q = codes_of(IRRCAC_4RATERS)
    a = FUNCTIONS[coef](codes, q, weight_matrix(weighting, [1, 2, 3, 4, 5]))
    assert (_r3(a.pa), _r3(a.pe), _r3(a.value), _r3(a.se), _r3(a.ci_low)) == (pa, pe, value, se, lo)
    assert a.ci_high == 1.0  # irrCAC caps the upper limit at 1
    if p is not None:
        assert a.p_value == pytest.approx(p, abs=1e-5 if p > 1e-5 else 1e-6)


def test_quadratic_alpha_is_krippendorff_interval_alpha():
    # Krippendorff (2011) section C: interval alpha 0.849, the same number as Gwet's quadratic-weighted alpha.
    codes, q = codes_of(KRIPPENDORFF_C)
    a = krippendorff_analytic(value_counts(codes, q), weight_matrix("quadratic", [1, 2, 3, 4, 5]))
    assert round(a.value, 3) == 0.849


def test_brennan_prediger_p_value_is_two_sided():
    # irrCAC prints p = 0.04688 for Brennan-Prediger on raw.gender (value 0.183, SE 0.102, 14 df); that
    # is the one-sided t probability. The two-sided p, as for every other coefficient, is twice it.
    codes, q = codes_of(IRRCAC_GENDER)
    a = bp_analytic(value_counts(codes, q))
    assert round(a.p_value / 2, 5) == pytest.approx(0.04688, abs=1e-5)


def test_fleiss_generalised_equals_fleiss_1971_and_statsmodels():
    # Fleiss (1971): kappa = .430 (6 ratings on every item: the generalisation changes nothing).
    counts = np.stack([(np.array(FLEISS_1971) == v).sum(axis=1) for v in range(1, 6)], axis=1)
    a = fleiss_analytic(counts)
    assert round(a.value, 3) == 0.430
    assert a.value == pytest.approx(sm_fleiss(counts), abs=1e-12)


SAS_TABLE10 = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]


def test_cohen_kappa_matches_sas_proc_freq():
    # SAS PROC FREQ on table10: Kappa 0.4842, ASE 0.1380, 95% limits 0.2137-0.7547; ASE under H0
    # 0.1484, Z 3.2626, two-sided p 0.0011.
    a = cohen_analytic(np.array(SAS_TABLE10))
    assert [round(x, 4) for x in (a.value, a.se, a.ci_low, a.ci_high, a.z, a.p_value)] == [
        0.4842, 0.1380, 0.2137, 0.7547, 3.2626, 0.0011,
    ]  # fmt: skip
    assert a.value / a.z == pytest.approx(0.1484, abs=5e-5)  # z uses the SE under H0


def test_weighted_cohen_kappa_matches_sas_proc_freq():
    # SAS weighted kappa (Cicchetti-Allison = linear weights): 0.4701, ASE 0.1457, 0.1845-0.7558,
    # ASE under H0 0.1426, Z 3.2971, two-sided p 0.0010.
    a = cohen_analytic(np.array(SAS_TABLE10), weighting="linear", scores=[0, 1, 2])
    assert [round(x, 4) for x in (a.value, a.se, a.ci_low, a.ci_high, a.z, a.p_value)] == [
        0.4701, 0.1457, 0.1845, 0.7558, 3.2971, 0.0010,
    ]  # fmt: skip


def _table_codes(table) -> np.ndarray:
    a, b = [], []
    for i, row in enumerate(table):
        for j, n in enumerate(row):
            a += [i] * n
            b += [j] * n
    return np.array([a, b], dtype=float)


def test_conger_of_two_raters_is_cohen():
    # Conger's kappa with two raters and no missing rating is Cohen's; weighted, Cohen's weighted kappa:
    # Fleiss, Levin & Paik (2003) Table 18.1 (kappa .68) and the SAS weighted value 0.4701 above.
    codes = _table_codes(FLP_TABLE_18_1)
    a = conger_analytic(codes, 3)
    assert a.value == pytest.approx(cohen_kappa_score(codes[0], codes[1]), abs=1e-12)
    assert round(a.value, 2) == 0.68
    w = conger_analytic(_table_codes(SAS_TABLE10), 3, weight_matrix("linear", [0, 1, 2]))
    assert round(w.value, 4) == 0.4701


def test_report_carries_the_analytic_figures():
    # The agreement report shows irrCAC's figures beside its bootstrap intervals (raw.4raters, also
    # used as first error steps 1-5).
    rep = compute_agreement(from_matrix(IRRCAC_4RATERS, as_step=True), n_boot=200, min_items=2)
    ls = rep.label_set
    assert (_r3(ls["fleiss_kappa"].value), _r3(ls["fleiss_kappa"].se)) == (0.761, 0.153)
    assert (_r3(ls["gwet_ac1"].se), _r3(ls["gwet_ac1"].ase_low)) == (0.143, 0.461)
    assert (_r3(ls["alpha_nominal"].se), _r3(ls["alpha_nominal"].ase_low)) == (0.146, 0.419)
    assert _r3(ls["conger_kappa"].value) == 0.763
    assert (_r3(ls["brennan_prediger"].value), _r3(ls["brennan_prediger"].se)) == (0.773, 0.145)
    assert ls["fleiss_kappa"].p_value == pytest.approx(0.00042, abs=5e-6)
    step = rep.first_error_step
    assert (_r3(step["kappa_linear"].value), _r3(step["kappa_linear"].se)) == (0.814, 0.145)
    assert (_r3(step["kappa_quadratic"].value), _r3(step["kappa_quadratic"].se)) == (0.858, 0.144)
    assert (_r3(step["alpha_interval"].value), _r3(step["alpha_interval"].se)) == (0.849, 0.129)
    # Ordinal alpha's distance depends on the marginals: bootstrap only, no analytic SE is invented.
    assert step["alpha_ordinal"].value is not None and step["alpha_ordinal"].se is None
    assert step["kappa_linear"].ci_low is not None  # and every new figure has its bootstrap interval
    frame = rep.analytic_frame()
    assert {"fleiss_kappa", "conger_kappa", "brennan_prediger", "kappa_quadratic"} <= set(frame["statistic"])
    assert {"se", "z", "p_value", "ase_ci_low", "ase_ci_high"} <= set(rep.to_frame().columns)


def test_analytic_value_is_the_point_estimate():
    # Each analytic value is computed by the same formula as the reported point estimate.
    rep = compute_agreement(from_matrix(IRRCAC_5OBSERVERS), n_boot=0, min_items=2)
    for e in rep.label_set.estimates.values():
        if e.se is not None:
            assert e.ase_low <= e.value <= e.ase_high
    codes, q = codes_of(IRRCAC_5OBSERVERS)
    assert rep.label_set["alpha_nominal"].value == pytest.approx(
        krippendorff_analytic(value_counts(codes, q)).value, abs=1e-12
    )


def test_agreement_page_function_lists_the_analytic_figures():
    from annotator.views.agreement import analytic_table

    rep = compute_agreement(from_matrix(IRRCAC_4RATERS), n_boot=0, min_items=2)
    table = analytic_table(rep)
    assert {"value", "SE", "z", "p", "asymptotic CI"} <= set(table.columns)
    fleiss = table[(table["variable"] == "label set") & (table["statistic"] == "Fleiss' κ")].iloc[0]
    assert (fleiss["value"], fleiss["SE"], fleiss["p"], fleiss["asymptotic CI"]) == (
        "0.76",
        "0.153",
        "<0.001",
        "[0.42, 1.00]",
    )


def test_fleiss_nee_landis_z_matches_r_irr():
    # R irr::kappam.fleiss on Fleiss' (1971) diagnoses: kappa 0.4302445, z = 17.65183 (the output is
    # reproduced in statsmodels' test_inter_rater.py). The z uses Fleiss, Nee & Landis' (1979) SE under H0.
    from pipeline.agreement._analytic import fleiss_null_test

    counts = np.stack([(np.array(FLEISS_1971) == v).sum(axis=1) for v in range(1, 6)], axis=1)
    se0, z, p = fleiss_null_test(counts)
    assert z == pytest.approx(17.65183, abs=1e-5)
    assert p < 1e-12
    assert "z 17.65" in fleiss_analytic(counts).method
    # Undefined when items have different numbers of ratings (Gwet's SE still is).
    codes, q = codes_of(IRRCAC_4RATERS)
    assert fleiss_null_test(value_counts(codes, q)) is None
    assert fleiss_analytic(value_counts(codes, q)).se is not None


@pytest.mark.parametrize("table", [[[5, 0], [0, 6]], [[20, 5], [3, 12]], [[40, 9], [6, 7]]])
def test_cohen_z_on_a_2x2_table_is_pearsons_chi_square(table):
    # For a 2 x 2 table the square of kappa's null-variance z equals Pearson's chi-square (an algebraic
    # identity, not a published figure), so it also holds at perfect agreement, where the ASE is 0.
    from scipy.stats import chi2_contingency

    a = cohen_analytic(np.array(table))
    assert a.z**2 == pytest.approx(chi2_contingency(table, correction=False)[0], rel=1e-9)
    if table[0][1] == table[1][0] == 0:
        assert a.value == 1.0 and a.se == 0.0 and a.ci_low == a.ci_high == 1.0
