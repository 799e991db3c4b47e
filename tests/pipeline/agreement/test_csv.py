"""Ratings from a plain CSV of (item, rater, label): good files, and bad ones named by file, line and field."""

from __future__ import annotations

import pytest

from pipeline.agreement import compute_agreement, ratings_to_csv_rows, read_ratings_csv
from pipeline.errors import InputError
from tests.pipeline.agreement._data import KRIPPENDORFF_C, from_matrix


def _write(tmp_path, text, name="ratings.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_multi_label_rows_make_label_sets(tmp_path):
    p = _write(
        tmp_path,
        "item,rater,label,first_error_step\n"
        "r1,ann,reasoning_drift,4\n"
        "r1,ann,red_flag_failure,4\n"
        "r1,bob,reasoning_drift,\n"
        "r2,ann,no_error,\n"
        "r2,bob,,\n",
    )
    ratings = read_ratings_csv(p)
    by = {(r.item, r.rater): r for r in ratings.ratings}
    assert by[("r1", "ann")].labels == {"reasoning_drift", "red_flag_failure"}
    assert by[("r1", "ann")].first_error_step == 4
    assert by[("r2", "ann")].labels == frozenset() == by[("r2", "bob")].labels
    # DxTrace codes present: every codebook error mode is reported, used or not.
    assert ratings.labels[:4] == ("reasoning_drift", "red_flag_failure", "priority_inversion", "other")


def test_round_trip_gives_published_alpha(tmp_path):
    import csv

    ratings = from_matrix(KRIPPENDORFF_C)
    p = tmp_path / "k.csv"
    with p.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["item", "rater", "label", "case", "first_error_step"])
        w.writeheader()
        w.writerows(ratings_to_csv_rows(ratings))
    back = read_ratings_csv(p)
    assert back.labels == ("1", "2", "3", "4", "5")
    rep = compute_agreement(back, n_boot=0, min_items=2)
    assert rep.label_set["alpha_nominal"].value == pytest.approx(0.743, abs=5e-4)  # Krippendorff (2011) C


def test_semicolon_and_aliases(tmp_path):
    p = _write(tmp_path, "Unit;Coder;Category\n1;x;a\n1;y;a\n")
    ratings = read_ratings_csv(p)
    assert ratings.n_ratings == 2 and ratings.labels == ("a",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "ratings.csv: the file is empty"),
        ("item,who,label\n1,a,x\n", "ratings.csv:1: rater: missing column"),
        ("item,rater,label\n", "ratings.csv: no rating rows"),
        ("item,rater,label\n1,,x\n", "ratings.csv:2: rater: empty"),
        ("item,rater,label\n,a,x\n", "ratings.csv:2: item: empty"),
        ("item,rater,label\n1,a,x\n1,a,no_error\n", "ratings.csv:3: label: 'no_error' contradicts 'x' on line 2"),
        ("item,rater,label\n1,a,no_error\n1,a,x\n", "ratings.csv:3: label: 'x' contradicts 'no_error' on line 2"),
        ("item,rater,label,first_error_step\n1,a,x,two\n", "ratings.csv:2: first_error_step: 'two' is not a step"),
        ("item,rater,label,first_error_step\n1,a,x,0\n", "ratings.csv:2: first_error_step: '0' is not a step"),
        ("item,rater,label,first_error_step\n1,a,x,2\n1,a,y,3\n", "ratings.csv:3: first_error_step: 3 differs"),
        ("item,rater,label,case\n1,a,x,c1\n1,b,x,c2\n", "ratings.csv:3: case: item '1' is in case 'c1'"),
    ],
)
def test_bad_input_names_file_line_and_field(tmp_path, text, expected):
    p = _write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        read_ratings_csv(p)
    assert str(exc.value).startswith(str(tmp_path / expected.split(":", 1)[0]) + ":" + expected.split(":", 1)[1])


def test_not_utf8_and_missing_file(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("item,rater,label\n1,a,caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin.csv:2: not UTF-8"):
        read_ratings_csv(p)
    with pytest.raises(InputError, match="no such file"):
        read_ratings_csv(tmp_path / "nope.csv")
