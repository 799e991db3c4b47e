"""The statistics against values published in methodological papers and textbooks.

Every expected number below is the one printed in the cited source, not this code's output.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.agreement import compute_agreement, krippendorff_alpha, masi_distance, value_counts
from tests.pipeline.agreement._data import (
    FLEISS_1971,
    FLP_TABLE_18_1,
    GWET_ABSTRACTORS,
    KRIPPENDORFF_A,
    KRIPPENDORFF_B,
    KRIPPENDORFF_C,
    from_matrix,
    from_subject_rows,
    from_table,
)


def _report(ratings, **kw):
    return compute_agreement(ratings, n_boot=200, min_items=2, **kw)


def test_krippendorff_2011_binary_two_observers():
    # Krippendorff (2011) section A: alpha = 0.095 (nominal, binary).
    rep = _report(from_matrix(KRIPPENDORFF_A, label_prefix="v"))
    assert rep["v1"]["alpha"].value == pytest.approx(0.095, abs=5e-4)
    # The same data coded as the presence of one label: alpha on present/absent agrees.
    assert rep.label_set["alpha_nominal"].value == pytest.approx(0.095, abs=5e-4)


def test_krippendorff_2011_nominal_two_observers():
    # Krippendorff (2011) section B: alpha = 0.692.
    rep = _report(from_matrix(KRIPPENDORFF_B))
    assert rep.label_set["alpha_nominal"].value == pytest.approx(0.692, abs=5e-4)
    # Singleton label sets are at MASI distance 1 unless equal, so MASI alpha equals nominal alpha here.
    assert rep.label_set["alpha_masi"].value == pytest.approx(0.692, abs=5e-4)


def test_krippendorff_2011_missing_data_nominal_ordinal_interval():
    # Krippendorff (2011) section C (four observers, missing data): nominal 0.743, ordinal 0.815,
    # interval 0.849. The values also serve as first error steps to test the step statistics.
    rep = _report(from_matrix(KRIPPENDORFF_C, as_step=True))
    assert rep.label_set["alpha_nominal"].value == pytest.approx(0.743, abs=5e-4)
    assert rep.label_set["alpha_masi"].value == pytest.approx(0.743, abs=5e-4)
    step = rep.first_error_step
    assert step["alpha_ordinal"].value == pytest.approx(0.815, abs=5e-4)
    assert step["alpha_interval"].value == pytest.approx(0.849, abs=5e-4)
    # Unit 12 has a single value: it is not pairable and must not count as an item.
    assert step["alpha_interval"].n_items == 11
    assert step["alpha_interval"].n_ratings == 40


def test_krippendorff_wrapper_directly():
    codes = np.array(KRIPPENDORFF_C, dtype=float) - 1
    counts = value_counts(codes, 5)
    value, reason = krippendorff_alpha(counts, level="interval", domain=[1, 2, 3, 4, 5])
    assert reason is None and value == pytest.approx(0.849, abs=5e-4)


def test_fleiss_1971():
    # Fleiss (1971), p. 381: kappa = .430 for the 30 patients x 6 psychiatrists.
    rep = _report(from_subject_rows(FLEISS_1971))
    assert rep.label_set["fleiss_kappa"].value == pytest.approx(0.430, abs=5e-4)
    assert rep.label_set["fleiss_kappa"].n_items == 30
    assert rep.label_set["fleiss_kappa"].n_ratings == 180


def test_cohen_kappa_fleiss_levin_paik_table_18_1():
    # Fleiss, Levin & Paik (2003), section 18.1: p_o = .89, p_e = .66, kappa = (.89 - .66)/(1 - .66) = .68.
    rep = _report(from_table(FLP_TABLE_18_1))
    (pair,) = rep.label_set.pairs
    assert pair.percent_agreement.value == pytest.approx(0.89)
    assert pair.kappa.value == pytest.approx((0.89 - 0.66) / (1 - 0.66), abs=1e-9)
    assert round(pair.kappa.value, 2) == 0.68


def test_gwet_ac1_handbook_missing_data():
    # Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed., p. 120 (the same 12 units x 4 raters
    # as Krippendorff's section C): AC1 = 0.775 with pa = 0.818 and pe = 0.190.
    rep = _report(from_matrix(KRIPPENDORFF_C))
    ac1 = rep.label_set["gwet_ac1"].value
    assert ac1 == pytest.approx(0.775, abs=5e-4)
    assert rep.label_set["percent_agreement"].value == pytest.approx(0.818, abs=5e-4)
    pe = (rep.label_set["percent_agreement"].value - ac1) / (1 - ac1)
    assert pe == pytest.approx(0.190, abs=5e-4)


def test_gwet_ac1_handbook_two_abstractors():
    # Gwet (2014), Handbook, 4th ed.: ectopic-pregnancy abstractors, AC1 = 0.849.
    rep = _report(from_table(GWET_ABSTRACTORS))
    assert rep.label_set["gwet_ac1"].value == pytest.approx(0.849, abs=5e-4)


def test_masi_distance_passonneau_2006():
    # Passonneau (2006), "Measuring agreement on set-valued items (MASI)", LREC: MASI = J x M with
    # J the Jaccard coefficient and M = 1 (identical), 2/3 (subsumption), 1/3 (overlap), 0 (disjoint);
    # the distance is 1 - MASI.
    a, b, c = "a", "b", "c"
    assert masi_distance({a}, {a}) == 0.0
    assert masi_distance({a}, {a, b}) == pytest.approx(1 - (1 / 2) * (2 / 3))  # 2/3
    assert masi_distance({a, b}, {a, b, c}) == pytest.approx(1 - (2 / 3) * (2 / 3))  # 5/9
    assert masi_distance({a, b}, {a, c}) == pytest.approx(1 - (1 / 3) * (1 / 3))  # 8/9
    assert masi_distance({a}, {b}) == 1.0
    # Symmetric, and the empty set ("no error"): identical to itself, disjoint from any error.
    assert masi_distance({a, b}, {a}) == masi_distance({a}, {a, b})
    assert masi_distance(set(), set()) == 0.0
    assert masi_distance(set(), {a}) == 1.0
