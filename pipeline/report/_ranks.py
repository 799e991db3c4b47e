"""Top-1 accuracy and the rank of the correct diagnosis, beside top-k inclusion.

A pure function on the effective grades (pipeline.accuracy.effective_grades): one row per response with
`model`, `correct` (True/False/NA = pending) and `rank` (1-based place of the matching diagnosis).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.accuracy import Proportion, proportion_ci


@dataclass(frozen=True)
class RankSummary:
    model: str
    n: int  # graded responses (pending left out, as in the main accuracy figure)
    top_k: Proportion
    top_1: Proportion
    at_rank: dict[int, int]  # rank -> responses whose gold diagnosis is at that rank
    rank_unknown: int  # correct, but the grade does not say where (a clinician's grade, an option)
    mean_rank: float | None  # over correct responses with a known rank

    def share(self, rank: int) -> float | None:
        return self.at_rank.get(rank, 0) / self.n if self.n else None


def rank_summaries(
    grades: pd.DataFrame, *, ranks: int = 5, conf_level: float = 0.95, ci_method: str = "wilson"
) -> list[RankSummary]:
    """Per model, in order of appearance: top-k and top-1 accuracy with intervals, and where the gold was found."""
    out = []
    for model, rows in grades.groupby("model", sort=False):
        graded = rows[rows["correct"].notna()]
        correct = graded[graded["correct"].astype(bool)]
        known = correct["rank"].dropna().astype(int)
        at_rank = {r: int((known == r).sum()) for r in range(1, max([ranks, *known.tolist()]) + 1)}
        out.append(
            RankSummary(
                model=str(model),
                n=len(graded),
                top_k=proportion_ci(len(correct), len(graded), conf_level=conf_level, method=ci_method),  # type: ignore[arg-type]
                top_1=proportion_ci(at_rank.get(1, 0), len(graded), conf_level=conf_level, method=ci_method),  # type: ignore[arg-type]
                at_rank=at_rank,
                rank_unknown=len(correct) - len(known),
                mean_rank=float(known.mean()) if len(known) else None,
            )
        )
    return out
