"""Sample size and power of the paired design (two models on the same cases), exact McNemar test.

Public face: Discordance, check_discordance, discordance_from_accuracies, exact_power,
simulated_power, connor_n, connor_power, sample_size, SampleSize.
"""

from __future__ import annotations

from pipeline.power._mcnemar import (
    MAX_CASES,
    Discordance,
    SampleSize,
    check_discordance,
    connor_n,
    connor_power,
    discordance_from_accuracies,
    exact_power,
    sample_size,
    simulated_power,
)

__all__ = [
    "MAX_CASES",
    "Discordance",
    "SampleSize",
    "check_discordance",
    "connor_n",
    "connor_power",
    "discordance_from_accuracies",
    "exact_power",
    "sample_size",
    "simulated_power",
]
