"""Accuracy: grading responses against the gold diagnosis, and the study's statistics.

Grading (a ladder of registered tiers: exact, synonym, ICD-10-CM terminology, containment, specific, fuzzy,
embedding, an optional LLM judge; uncertain matches wait for a clinician) writes Grade rows;
grade_check validates the grades against a reference label; the statistics are pure functions on statsmodels/scipy; the study table is built per
model and per pair, overall and per subgroup, and written as CSV, JSON, Markdown and a forest plot.
"""

from __future__ import annotations

from pipeline.accuracy._check import GradeCheck, cohen_kappa, grade_check, grade_check_markdown, report_grade_check
from pipeline.accuracy._csv import read_results_csv
from pipeline.accuracy._grade import (
    GradeCache,
    GradingSummary,
    PendingGrade,
    effective_correct,
    effective_grade_states,
    effective_grades,
    get_study,
    grade_study,
    incorrect_response_ids,
    pending_grades,
    record_clinician_grade,
    stale_grades,
)
from pipeline.accuracy._judge import JudgeConfig, JudgeVerdict, read_verdict
from pipeline.accuracy._match import (
    GRADER_VERSION,
    GoldNames,
    Match,
    MatchResult,
    Thresholds,
    match_diagnoses,
    match_option,
)
from pipeline.accuracy._normalise import name_variants, normalise
from pipeline.accuracy._plot import forest_plot
from pipeline.accuracy._report import FORMATS, PENDING_POLICIES, AccuracyReport, ModelRow, PairRow, accuracy_report
from pipeline.accuracy._stats import (
    CI_METHODS,
    CORRECTIONS,
    DEFAULT_ALPHA,
    DIFFERENCE_METHODS,
    EMPTY,
    MCNEMAR_METHODS,
    NO_DISCORDANT,
    Adjusted,
    Difference,
    McNemarResult,
    PairedCounts,
    Proportion,
    adjust_p_values,
    mcnemar_test,
    paired_counts,
    paired_difference,
    proportion_ci,
)
from pipeline.accuracy._study import study_accuracy, study_accuracy_by_case_set, study_case_sets, study_pairs
from pipeline.accuracy._synonyms import case_synonyms, curated_synonyms
from pipeline.accuracy._tiers import tier_names

__all__ = [
    "CI_METHODS",
    "CORRECTIONS",
    "DEFAULT_ALPHA",
    "DIFFERENCE_METHODS",
    "EMPTY",
    "FORMATS",
    "GRADER_VERSION",
    "MCNEMAR_METHODS",
    "NO_DISCORDANT",
    "PENDING_POLICIES",
    "AccuracyReport",
    "Adjusted",
    "Difference",
    "GoldNames",
    "GradeCheck",
    "JudgeConfig",
    "JudgeVerdict",
    "GradeCache",
    "GradingSummary",
    "Match",
    "MatchResult",
    "McNemarResult",
    "ModelRow",
    "PairRow",
    "PairedCounts",
    "PendingGrade",
    "Proportion",
    "Thresholds",
    "accuracy_report",
    "adjust_p_values",
    "case_synonyms",
    "cohen_kappa",
    "grade_check",
    "grade_check_markdown",
    "curated_synonyms",
    "effective_correct",
    "effective_grade_states",
    "effective_grades",
    "forest_plot",
    "get_study",
    "grade_study",
    "incorrect_response_ids",
    "match_diagnoses",
    "match_option",
    "mcnemar_test",
    "name_variants",
    "normalise",
    "paired_counts",
    "paired_difference",
    "pending_grades",
    "proportion_ci",
    "read_results_csv",
    "read_verdict",
    "record_clinician_grade",
    "report_grade_check",
    "study_accuracy",
    "study_accuracy_by_case_set",
    "study_case_sets",
    "stale_grades",
    "study_pairs",
    "tier_names",
]
