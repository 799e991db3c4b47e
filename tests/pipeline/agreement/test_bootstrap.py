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
