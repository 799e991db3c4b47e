"""Published reliability data sets, as ratings. Sources are cited where each is used."""

from __future__ import annotations

import numpy as np

from pipeline.agreement import Rating, Ratings

nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", Annenberg School for Communication,
# University of Pennsylvania, section C: nominal (and other) data, four observers, missing data.
# Rows are observers A-D, columns units 1-12; nan = not coded.
KRIPPENDORFF_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]

# Krippendorff (2011), section A: binary data, two observers, no missing data.
KRIPPENDORFF_A = [
    [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
    [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
]

# Krippendorff (2011), section B: nominal data, two observers, no missing data.
KRIPPENDORFF_B = [list("aabbdcccedda"), list("babbbccceddd")]

# Fleiss (1971), "Measuring nominal scale agreement among many raters", Psychol Bull 76:378-382, Table 1:
# 30 patients, 6 psychiatrists each, 5 categories (1 depression, 2 personality disorder,
# 3 schizophrenia, 4 neurosis, 5 other); each row lists the six diagnoses of one patient.
FLEISS_1971 = [
    [4, 4, 4, 4, 4, 4],
    [2, 2, 2, 5, 5, 5],
    [2, 3, 3, 3, 3, 5],
    [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3],
    [3, 3, 3, 3, 5, 5],
    [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4],
    [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4],
    [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3],
    [1, 4, 4, 4, 4, 4],
    [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5],
    [1, 1, 1, 1, 1, 2],
    [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5],
    [2, 4, 4, 4, 4, 4],
    [2, 2, 4, 5, 5, 5],
    [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4],
    [1, 1, 1, 1, 5, 5],
    [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3],
    [5, 5, 5, 5, 5, 5],
]

# Fleiss, Levin & Paik (2003), Statistical Methods for Rates and Proportions, 3rd ed., Table 18.1:
# diagnoses of 100 subjects by two raters (rows rater A, columns rater B: psychotic, neurotic, organic).
FLP_TABLE_18_1 = [[75, 1, 4], [5, 4, 1], [0, 0, 10]]

# Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed.: two abstractors classifying 100 pregnant
# women (ectopic, abnormal intrauterine, normal intrauterine); rows abstractor 1, columns abstractor 2.
GWET_ABSTRACTORS = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]


def from_matrix(matrix, *, as_step: bool = False, label_prefix: str = "") -> Ratings:
    """(raters x units) values as single-label ratings (and, with as_step, also as first error steps)."""
    ratings = []
    for r, row in enumerate(matrix):
        for u, v in enumerate(row):
            if isinstance(v, float) and np.isnan(v):
                continue
            label = f"{label_prefix}{v if isinstance(v, str) else int(v)}"
            ratings.append(
                Rating(
                    item=f"u{u + 1}",
                    rater=f"r{r + 1}",
                    labels=frozenset({label}),
                    first_error_step=int(v) if as_step else None,
                )
            )
    return Ratings.build(ratings)


def from_table(table) -> Ratings:
    """A two-rater contingency table as ratings (one item per counted subject)."""
    ratings = []
    n = 0
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            for _ in range(count):
                n += 1
                ratings.append(Rating(item=f"s{n}", rater="A", labels=frozenset({f"c{i}"})))
                ratings.append(Rating(item=f"s{n}", rater="B", labels=frozenset({f"c{j}"})))
    return Ratings.build(ratings)


def from_subject_rows(rows) -> Ratings:
    """Rows of one subject's ratings (raters interchangeable, as in Fleiss 1971) as ratings."""
    return Ratings.build(
        Rating(item=f"p{i + 1}", rater=f"r{j + 1}", labels=frozenset({f"d{v}"}))
        for i, row in enumerate(rows)
        for j, v in enumerate(row)
    )


# Data sets shipped with Gwet's irrCAC package (R; the Python port afergadis/irrCAC carries the same
# data and, in its tests, the figures irrCAC prints for them). Rows are raters, columns subjects,
# nan = not rated. Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed.: "raw.4raters" is the
# table of p. 120; "raw.5observers" is part of the table of p. 125.
# raw.4raters holds Krippendorff's section C data, except that unit 12's single rating is rater 3's
# (observer B's in Krippendorff): only rater-specific statistics (Conger's kappa) tell them apart.
IRRCAC_4RATERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, nan],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 3],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]
IRRCAC_5OBSERVERS = [
    [1, 1, 2, nan, 0, 0, 1, 1, 2, 2, nan, 0, 1, 3, 1],
    [1, 1, 3, 0, 0, 0, 0, nan, 2, 1, 1, 0, 2, 3, 1],
    [2, 0, 3, 0, 0, 0, 2, 2, 2, 1, 0, 0, 2, 2, 1],
    [nan, 1, 3, nan, nan, nan, nan, 0, nan, 1, 0, 0, 2, 2, nan],
    [2, nan, nan, 0, 0, 0, 1, nan, 2, nan, nan, nan, nan, 3, 1],
]
IRRCAC_G1G2 = [
    list("abccbadab") + [nan, nan, nan] + list("bb"),
    list("abccbbdabe") + [nan, nan] + list("ba"),
    [nan] + list("cccbcdbbeacc") + ["c"],
    list("abccbddabea") + [nan] + list("bb"),
]
IRRCAC_GENDER = [
    list("a a a a a b b b c a a a a a b".replace(" ", "")),
    list("a a a a b a b c c a a a a b a".replace(" ", "")),
    list("a b b c a a b b c a b b c a a".replace(" ", "")),
    list("c c c c a a b b c c c c c a a".replace(" ", "")),
]
IRRCAC_BEN_GERRY = [
    list("aabbdcccedda"),
    list("bab") + ["b", "b", "c", "c", "c", "e", nan, "d", "d"],
]


def codes_of(matrix) -> tuple[np.ndarray, int]:
    """(raters x subjects) values as value indices (sorted values, as irrCAC orders its categories)."""
    values = sorted({v for row in matrix for v in row if not (isinstance(v, float) and np.isnan(v))})
    index = {v: i for i, v in enumerate(values)}
    codes = np.array(
        [[np.nan if (isinstance(v, float) and np.isnan(v)) else index[v] for v in row] for row in matrix], dtype=float
    )
    return codes, len(values)
