"""Inter-rater agreement per error mode, with case-bootstrap intervals, and settling final labels.

Public face:
- agreement_report(session, study_id) / compute_agreement(ratings) -> AgreementReport
- ratings_from_db(session, study_id), read_ratings_csv(path) -> Ratings
- settle_final_labels, disagreements, get_disagreement, adjudicate: final labels of responses
- the statistics themselves (krippendorff_alpha, fleiss_kappa, cohen_kappa, gwet_ac1, conger_kappa,
  brennan_prediger, masi_distance, ...), registered as plug-ins (agreement_statistic) with their
  bootstrap and analytic standard errors (Analytic)
"""

from __future__ import annotations

from sqlmodel import Session

from pipeline.agreement._analytic import Analytic, weight_matrix
from pipeline.agreement._compute import (
    DEFAULT_MIN_ITEMS,
    DEFAULT_N_BOOT,
    compute_agreement,
    confusion,
    set_name,
)
from pipeline.agreement._model import (
    DEFAULT_ERROR_MODES,
    NO_ERROR,
    STATISTIC_TITLES,
    Estimate,
    LabelAgreement,
    PairAgreement,
    Rating,
    Ratings,
    normalise_labels,
)
from pipeline.agreement._read import (
    rater_alias,
    ratings_from_db,
    ratings_to_csv_rows,
    read_ratings_csv,
    study_error_modes,
)
from pipeline.agreement._registry import STATISTICS, AgreementStatistic, agreement_statistic
from pipeline.agreement._report import AgreementReport, markdown_table
from pipeline.agreement._settle import (
    METHOD_ADJUDICATED,
    METHOD_MAJORITY,
    METHOD_UNANIMOUS,
    METHODS,
    STATUS_AWAITING,
    STATUS_DISAGREEMENT,
    STATUS_FLAGGED,
    Decision,
    Disagreement,
    RaterLabels,
    SettleSummary,
    adjudicate,
    decide,
    disagreements,
    final_labels_frame,
    flagged_response_ids,
    get_disagreement,
    settle_final_labels,
    stored_modes,
)
from pipeline.agreement._stats import (
    brennan_prediger,
    cohen_kappa,
    conger_kappa,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    masi_distance,
    masi_matrix,
    percent_agreement,
    value_counts,
)


def agreement_report(
    session: Session,
    study_id: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    level: float = 0.95,
    min_items: int = DEFAULT_MIN_ITEMS,
    pseudonymise: bool = False,
) -> AgreementReport:
    """Agreement of the study's annotators: per error mode, on the label set and on the first error step."""
    ratings = ratings_from_db(session, study_id, pseudonymise=pseudonymise)
    return compute_agreement(ratings, n_boot=n_boot, seed=seed, level=level, min_items=min_items)


__all__ = [
    "STATISTICS",
    "Analytic",
    "AgreementStatistic",
    "agreement_statistic",
    "brennan_prediger",
    "conger_kappa",
    "weight_matrix",
    "STATUS_FLAGGED",
    "flagged_response_ids",
    "DEFAULT_ERROR_MODES",
    "DEFAULT_MIN_ITEMS",
    "DEFAULT_N_BOOT",
    "METHODS",
    "METHOD_ADJUDICATED",
    "METHOD_MAJORITY",
    "METHOD_UNANIMOUS",
    "NO_ERROR",
    "STATISTIC_TITLES",
    "STATUS_AWAITING",
    "STATUS_DISAGREEMENT",
    "AgreementReport",
    "Decision",
    "Disagreement",
    "Estimate",
    "LabelAgreement",
    "PairAgreement",
    "RaterLabels",
    "Rating",
    "Ratings",
    "SettleSummary",
    "adjudicate",
    "agreement_report",
    "cohen_kappa",
    "compute_agreement",
    "confusion",
    "decide",
    "disagreements",
    "final_labels_frame",
    "fleiss_kappa",
    "get_disagreement",
    "gwet_ac1",
    "krippendorff_alpha",
    "markdown_table",
    "masi_distance",
    "masi_matrix",
    "normalise_labels",
    "percent_agreement",
    "rater_alias",
    "ratings_from_db",
    "ratings_to_csv_rows",
    "read_ratings_csv",
    "set_name",
    "settle_final_labels",
    "stored_modes",
    "study_error_modes",
    "value_counts",
]
