"""What the annotation view shows of the signals, and what an annotation records of them.

Anchoring is real: nothing is shown unless the lead turned suggestions on (Study.show_suggestions); then
only signals that fired and still have verified evidence are shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from db.models import Study
from pipeline.signals._registry import registered
from pipeline.signals._study import response_signals


@dataclass(frozen=True)
class ShownSignal:
    signal: str
    title: str
    why: str  # the signal's one line
    steps: tuple[int, ...]
    step_quotes: dict[int, tuple[str, ...]] = field(default_factory=dict)  # step -> quotes of that step
    case_quotes: tuple[str, ...] = ()  # vignette quotes (e.g. red flags never taken up)


@dataclass(frozen=True)
class SignalsOnScreen:
    shown: bool  # False: suggestions are off, the view shows nothing of the signals
    signals: tuple[ShownSignal, ...] = ()

    def recorded(self) -> dict | None:
        """What Annotation.signals records: {signal: [steps]} of what was on screen (None when nothing was)."""
        if not self.shown or not self.signals:
            return None
        return {s.signal: list(s.steps) for s in self.signals}

    def by_step(self) -> dict[int, list[ShownSignal]]:
        out: dict[int, list[ShownSignal]] = {}
        for s in self.signals:
            for step in s.steps:
                out.setdefault(step, []).append(s)
        return out


def signals_on_screen(session: Session, study_id: int, response_id: int) -> SignalsOnScreen:
    study = session.get(Study, study_id)
    if study is None or not study.show_suggestions:
        return SignalsOnScreen(False)
    titles = {s.name: s.title for s in registered()}
    shown = []
    for row in sorted(response_signals(session, study_id, response_id), key=lambda r: list(titles).index(r.signal)
                      if r.signal in titles else len(titles)):  # fmt: skip
        if not row.fired or not row.evidence:
            continue
        step_quotes: dict[int, list[str]] = {}
        for e in row.evidence:
            if e.get("step") is not None:
                step_quotes.setdefault(int(e["step"]), []).append(e["quote"])
        case_quotes = tuple(e["quote"] for e in row.evidence if e.get("source") == "vignette")
        shown.append(
            ShownSignal(
                signal=row.signal,
                title=titles.get(row.signal, row.signal),
                why=row.summary or "",
                steps=tuple(sorted(step_quotes)),
                step_quotes={k: tuple(v) for k, v in step_quotes.items()},
                case_quotes=case_quotes,
            )
        )
    return SignalsOnScreen(True, tuple(shown))
