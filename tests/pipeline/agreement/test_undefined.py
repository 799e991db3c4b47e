"""Undefined figures come with a reason: never 1.0, never a crash."""

from __future__ import annotations

import math

from pipeline.agreement import NO_ERROR, Rating, Ratings, compute_agreement


def _ratings(rows):
    return Ratings.build(
        (Rating(item=i, rater=r, labels=frozenset(ls), first_error_step=s) for i, r, ls, s in rows),
        labels=("reasoning_drift", "red_flag_failure", "priority_inversion", "other"),
    )


def _study(n=20):
    rows = []
    for k in range(n):
        drift = k % 2 == 0
        for r in ("a", "b", "c"):
            labels = {"reasoning_drift"} if (drift or (r == "c" and k % 7 == 0)) else set()
            rows.append((f"i{k}", r, labels, 3 if labels else None))
    return _ratings(rows)


def test_unused_error_mode_is_undefined_with_reason():
    rep = compute_agreement(_study(), n_boot=100)
    other = rep["other"]
    assert other.prevalence == 0.0
    for name in ("alpha", "fleiss_kappa", "gwet_ac1"):
        e = other[name]
        assert e.value is None and e.ci_low is None
        assert "no variation" in e.reason
    assert all(p.kappa.value is None and "no variation" in p.kappa.reason for p in other.pairs)
    # Percent agreement is a plain share, and all raters did agree that the mode is absent.
    assert other["percent_agreement"].value == 1.0
    # The used mode is defined.
    assert rep["reasoning_drift"]["alpha"].value is not None


def test_too_few_paired_items_is_undefined():
    rep = compute_agreement(_study(6), n_boot=100, min_items=10)
    e = rep["reasoning_drift"]["alpha"]
    assert e.value is None and "too few paired ratings: 6 item(s)" in e.reason
    assert "no_error" in [v.label for v in rep.error_modes]


def test_single_ratings_and_empty_input_do_not_crash():
    rep = compute_agreement(_ratings([("i1", "a", {"other"}, None), ("i2", "b", set(), None)]), n_boot=50)
    assert rep["other"]["alpha"].reason == "no item has two or more ratings"
    empty = compute_agreement(Ratings.build([], labels=("other",)), n_boot=50)
    assert empty.n_ratings == 0 and empty["other"]["alpha"].value is None
    md = empty.to_markdown()
    assert "undefined" in md
    assert len(empty.to_frame())


def test_fleiss_is_defined_when_items_have_two_or_three_ratings():
    # As after `assign --extra-share`: some items have a third rater. Fleiss' kappa in Gwet's
    # generalisation is defined (it used to be "undefined"); perfect agreement with variation is 1.0.
    rows = [(f"i{k}", r, {"other"} if k % 2 else set(), None) for k in range(12) for r in ("a", "b")]
    rows += [(f"i{k}", "c", {"other"} if k % 2 else set(), None) for k in range(6)]
    rep = compute_agreement(_ratings(rows), n_boot=50)
    e = rep["other"]["fleiss_kappa"]
    assert e.value == 1.0 and e.reason is None
    assert rep["other"]["alpha"].value == 1.0
    # Standard error 0: no z or p is invented from it.
    assert e.se == 0.0 and e.z is None and e.p_value is None


def test_no_error_is_the_empty_set():
    rows = [(f"i{k}", r, set() if k % 3 else {"reasoning_drift"}, None) for k in range(15) for r in ("a", "b")]
    rep = compute_agreement(_ratings(rows), n_boot=50)
    ne = rep[NO_ERROR]
    assert math.isclose(ne.prevalence, 10 / 15)
    assert ne["alpha"].value == 1.0
    # MASI alpha over the label sets treats two empty sets as identical.
    assert rep.label_set["alpha_masi"].value == 1.0


def test_frames_and_json_carry_counts_beside_every_figure():
    rep = compute_agreement(_study(), n_boot=100)
    frame = rep.to_frame()
    assert {"n_cases", "n_items", "n_ratings", "prevalence", "ci_low", "ci_high", "undefined_reason"} <= set(
        frame.columns
    )
    defined = frame[frame["value"].notna()]
    assert (defined["n_items"] > 0).all() and (defined["n_ratings"] > 0).all()
    d = rep.to_dict()
    assert d["bootstrap"]["resamples"] == 100 and d["bootstrap"]["unit"] == "case"
    import json

    json.dumps(d)  # serialisable as is
