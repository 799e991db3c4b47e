"""The vectorised bootstrap computes the reference implementations' values on each resample."""

from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from pipeline.agreement import Rating, Ratings, compute_agreement, gwet_ac1, value_counts
from pipeline.agreement import _bootstrap as boot
from tests.pipeline.agreement._data import FLEISS_1971, KRIPPENDORFF_C

RNG = np.random.default_rng(7)
WEIGHTS = [RNG.multinomial(12, np.ones(12) / 12) for _ in range(5)]


def _expand(codes: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The resample written out: item i repeated w[i] times."""
    return np.repeat(codes, w.astype(int), axis=1)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_matches_krippendorff_package_on_resamples(level):
    codes = np.array(KRIPPENDORFF_C, dtype=float) - 1
    counts = value_counts(codes, 5)
    fn = boot.alpha_fn(counts, level=level, domain=[1, 2, 3, 4, 5])
    got = fn(np.array(WEIGHTS, dtype=float))
    for w, g in zip(WEIGHTS, got, strict=True):
        want = krippendorff.alpha(value_counts=value_counts(_expand(codes, w), 5), level_of_measurement=level)
        assert g == pytest.approx(want, abs=1e-9)


def test_fleiss_percent_ac1_match_references_on_resamples():
    rows = np.array(FLEISS_1971) - 1
    counts = np.stack([(rows == v).sum(axis=1) for v in range(5)], axis=1)
    w = np.array([RNG.multinomial(30, np.ones(30) / 30) for _ in range(4)], dtype=float)
    fk, pa, ac = boot.fleiss_fn(counts)(w), boot.percent_fn(counts)(w), boot.ac1_fn(counts)(w)
    for i in range(len(w)):
        rep = np.repeat(counts, w[i].astype(int), axis=0)
        assert fk[i] == pytest.approx(sm_fleiss(rep), abs=1e-9)
        assert ac[i] == pytest.approx(gwet_ac1(rep)[0], abs=1e-9)
        c = rep.astype(float)
        assert pa[i] == pytest.approx(np.mean((c * (c - 1)).sum(1) / (6 * 5)), abs=1e-9)


def test_cohen_matches_sklearn_on_resamples():
    a = np.array([0, 1, 2, 1, 0, 0, 2, 1, np.nan, 1, 0, 2])
    b = np.array([0, 1, 1, 1, 0, 2, 2, 0, 1, np.nan, 0, 2])
    got = boot.cohen_fn(a, b, 3)(np.array(WEIGHTS, dtype=float))
    both = ~(np.isnan(a) | np.isnan(b))
    for w, g in zip(WEIGHTS, got, strict=True):
        keep = np.repeat(np.flatnonzero(both), w[both].astype(int))
        want = cohen_kappa_score(a[keep].astype(int), b[keep].astype(int), labels=[0, 1, 2])
        assert g == pytest.approx(want, abs=1e-9)


def test_resampling_keeps_every_rating_of_a_case():
    # Items 0-2 belong to case A, items 3-4 to case B: a resample draws whole cases.
    clusters = np.array([0, 0, 0, 1, 1])
    for block in boot.resample_weights(clusters, 2, 300, seed=3, block=64):
        w = block.items
        assert (w[:, 0] == w[:, 1]).all() and (w[:, 1] == w[:, 2]).all() and (w[:, 3] == w[:, 4]).all()
        assert (w[:, [0, 3]].sum(axis=1) == 2).all()  # two cases drawn per resample


def test_intervals_reproducible_and_cover_the_estimate():
    ratings = Ratings.build(
        Rating(item=f"i{i}", rater=r, labels=frozenset({"x"}) if (i + (r == "c" and i % 5 == 0)) % 2 else frozenset())
        for i, r in itertools.product(range(60), "abc")
    )
    one = compute_agreement(ratings, n_boot=500, seed=11)
    two = compute_agreement(ratings, n_boot=500, seed=11)
    e1, e2 = one["x"]["alpha"], two["x"]["alpha"]
    assert (e1.ci_low, e1.ci_high) == (e2.ci_low, e2.ci_high)
    assert e1.ci_low <= e1.value <= e1.ci_high < 1.0
    assert e1.n_boot == 500
    other = compute_agreement(ratings, n_boot=500, seed=12)["x"]["alpha"]
    assert (other.ci_low, other.ci_high) != (e1.ci_low, e1.ci_high)


def test_new_statistics_match_their_point_estimates_on_resamples():
    # Fleiss (generalised, weighted), Brennan-Prediger and Conger (weighted) under resample weights equal
    # the point estimates on the resample written out (items repeated), with missing ratings.
    from pipeline.agreement import brennan_prediger, conger_kappa, fleiss_kappa
    from pipeline.agreement._analytic import weight_matrix

    codes = np.array(KRIPPENDORFF_C, dtype=float) - 1
    counts = value_counts(codes, 5)
    w = np.array(WEIGHTS, dtype=float)
    for weighting in ("identity", "quadratic"):
        wm = weight_matrix(weighting, [1, 2, 3, 4, 5])
        fk = boot.fleiss_fn(counts, wm)(w)
        bp = boot.bp_fn(counts, wm)(w)
        ck = boot.conger_fn(codes, 5, wm)(w)
        for i in range(len(w)):
            rep = _expand(codes, w[i])
            rc = value_counts(rep, 5)
            assert fk[i] == pytest.approx(fleiss_kappa(rc, weights=wm)[0], abs=1e-9)
            assert bp[i] == pytest.approx(brennan_prediger(rc, weights=wm)[0], abs=1e-9)
            assert ck[i] == pytest.approx(conger_kappa(rep, 5, weights=wm)[0], abs=1e-9)


def test_generalised_fleiss_equals_statsmodels_with_equal_ratings():
    rows = np.array(FLEISS_1971) - 1
    counts = np.stack([(rows == v).sum(axis=1) for v in range(5)], axis=1)
    from pipeline.agreement import fleiss_kappa

    assert fleiss_kappa(counts)[0] == pytest.approx(sm_fleiss(counts), abs=1e-12)


def _clustered_study(seed: int = 5, n_items: int = 240, n_cases: int = 30, raters: int = 3, n_values: int = 4):
    """(raters x items) value indices with about 10 % missing, and each item's case (several items per case)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_values, n_items)
    codes = np.where(rng.random((raters, n_items)) < 0.7, truth, rng.integers(0, n_values, (raters, n_items)))
    codes = codes.astype(float)
    codes[rng.random(codes.shape) < 0.1] = np.nan
    return codes, rng.integers(0, n_cases, n_items)


def _every_fn(codes: np.ndarray, n_values: int) -> dict[str, boot.BootFn]:
    from pipeline.agreement import masi_matrix
    from pipeline.agreement._analytic import weight_matrix

    counts = value_counts(codes, n_values)
    quad = weight_matrix("quadratic", list(range(n_values)))
    sets = [frozenset(), frozenset("a"), frozenset("ab"), frozenset("b")][:n_values]
    return {
        "alpha nominal": boot.alpha_fn(counts),
        "alpha interval": boot.alpha_fn(counts, level="interval"),
        "alpha ordinal": boot.alpha_fn(counts, level="ordinal"),
        "alpha masi": boot.alpha_fn(counts, distance=masi_matrix(sets)),
        "fleiss": boot.fleiss_fn(counts),
        "fleiss quadratic": boot.fleiss_fn(counts, quad),
        "bp": boot.bp_fn(counts),
        "conger": boot.conger_fn(codes, n_values),
        "conger quadratic": boot.conger_fn(codes, n_values, quad),
        "ac1": boot.ac1_fn(counts),
        "percent": boot.percent_fn(counts),
        "cohen": boot.cohen_fn(codes[0], codes[1], n_values),
        "pair percent": boot.pair_percent_fn(codes[0], codes[2]),
    }


def test_sums_by_case_equal_sums_by_item_for_every_statistic():
    # The run resamples cases and multiplies (resamples x cases) weights into terms summed by case; the
    # same resamples written out as (resamples x items) weights must give the same values.
    codes, case = _clustered_study()
    n_cases = int(case.max()) + 1
    blocks = list(boot.resample_weights(case, n_cases, 120, seed=4, block=50))
    try:
        for name, fn in _every_fn(codes, 4).items():
            by_case = np.concatenate([fn(b) for b in blocks])
            by_item = np.concatenate([fn(b.items) for b in blocks])
            assert np.isfinite(by_case).all(), name
            np.testing.assert_allclose(by_case, by_item, rtol=0, atol=1e-12, err_msg=name)
    finally:
        boot.release_memo()


def test_nominal_alpha_closed_form_is_the_krippendorff_package_at_scale():
    # The bootstrap's closed form (from per-item coincidences) at unit weights is the package's point
    # estimate, and on case resamples it is the package's alpha of the resample written out.
    codes, case = _clustered_study(seed=9, n_items=600, n_cases=80, raters=3, n_values=5)
    counts = value_counts(codes, 5)
    fn = boot.alpha_fn(counts)
    want = krippendorff.alpha(value_counts=counts, level_of_measurement="nominal")
    assert fn(np.ones((1, counts.shape[0])))[0] == pytest.approx(want, abs=1e-12)
    block = next(boot.resample_weights(case, 80, 25, seed=2))
    got = fn(block)
    for g, w in zip(got, block.items, strict=True):
        rep = value_counts(_expand(codes, w), 5)
        assert g == pytest.approx(krippendorff.alpha(value_counts=rep, level_of_measurement="nominal"), abs=1e-9)
    boot.release_memo()


def test_items_that_are_their_own_case_give_reproducible_intervals():
    # No case given: every item is its own case, so the case sums are item sums.
    codes, _ = _clustered_study(seed=3, n_items=80, raters=3, n_values=2)
    ratings = Ratings.build(
        Rating(item=f"i{i}", rater=r, labels=frozenset({"x"}) if codes[g, i] == 1 else frozenset())
        for (g, r), i in itertools.product(enumerate("abc"), range(80))
        if not np.isnan(codes[g, i])
    )
    one = compute_agreement(ratings, n_boot=300, seed=1)["x"]
    two = compute_agreement(ratings, n_boot=300, seed=1)["x"]
    for key in ("alpha", "fleiss_kappa", "gwet_ac1", "conger_kappa"):
        assert (one[key].ci_low, one[key].ci_high) == (two[key].ci_low, two[key].ci_high)
        assert one[key].ci_low < one[key].value < one[key].ci_high
