"""Time per item: when an annotator opened it, when they saved, and how long they were active on it.

Active time is summed from the gaps between the annotator's actions on the item (each run of the
page is one), each gap capped: a tab left open over lunch counts IDLE_CAP_S, not an hour.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd
from sqlmodel import Session, select

from db.models import Annotation, Annotator

IDLE_CAP_S = 120.0


@dataclass(frozen=True)
class ItemClock:
    """One visit to an item: opened, the last action, and the active seconds so far."""

    opened_at: datetime
    last_action: datetime
    active_seconds: float = 0.0

    @classmethod
    def start(cls, now: datetime) -> ItemClock:
        return cls(now, now, 0.0)

    def tick(self, now: datetime, cap: float = IDLE_CAP_S) -> ItemClock:
        """An action at `now`: the gap since the last one counts, up to `cap` seconds."""
        gap = max(0.0, (now - self.last_action).total_seconds())
        return replace(self, last_action=max(now, self.last_action), active_seconds=self.active_seconds + min(gap, cap))


def record_time(annotation: Annotation, clock: ItemClock, saved_at: datetime) -> None:
    """Add a visit's time to an annotation: first opening kept, last save, active seconds summed."""
    if annotation.opened_at is None or _aware(clock.opened_at) < _aware(annotation.opened_at):
        annotation.opened_at = clock.opened_at
    annotation.saved_at = saved_at
    annotation.active_seconds = round((annotation.active_seconds or 0.0) + clock.active_seconds, 1)


def _aware(t: datetime) -> datetime:
    from datetime import UTC

    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # SQLite returns naive UTC


def time_per_annotator(session: Session, study_id: int) -> pd.DataFrame:
    """Per annotator: items with a recorded time, median and total active minutes."""
    rows = session.exec(
        select(Annotator.username, Annotation.active_seconds)
        .join(Annotator, Annotator.id == Annotation.annotator_id)
        .where(Annotation.study_id == study_id, Annotation.active_seconds != None)  # noqa: E711
    ).all()
    columns = ["annotator", "items timed", "median min per item", "total active min"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows, columns=["annotator", "seconds"])
    out = frame.groupby("annotator")["seconds"].agg(["count", "median", "sum"]).reset_index()
    out.columns = columns
    out["median min per item"] = (out["median min per item"] / 60).round(1)
    out["total active min"] = (out["total active min"] / 60).round(1)
    return out
