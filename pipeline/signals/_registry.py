"""The signal plug-ins: each a class registered with @signal, tied to one codebook error mode.

A signal reads a SignalInput (the trace split into the app's steps, the case, the grade, the red
flags, step vectors when it asks for them) and returns a SignalResult: fired or not (None when it
cannot tell), the steps it points at, and evidence quotes that are exact substrings of the stored
trace or vignette.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from pipeline.accuracy import GoldNames
from pipeline.signals._text import Sentence, sentences


@dataclass(frozen=True)
class Evidence:
    step: int | None  # 1-based step number of the trace; None for a vignette quote
    source: str  # "trace" or "vignette"
    quote: str  # exact substring of the stored trace or vignette
    why: str  # one short line

    def as_dict(self) -> dict:
        return {"step": self.step, "source": self.source, "quote": self.quote, "why": self.why}


@dataclass(frozen=True)
class RedFlagHit:
    """A red flag present in the vignette, with where it was found."""

    id: str
    name: str
    terms: tuple[str, ...]
    quote: str  # exact substring of the vignette
    source: str  # the list version ("list:v1") or the extractor ("model:NAME")
    phrase: str = ""  # the vignette's own words for it, normalised


@dataclass
class SignalInput:
    response_id: int
    trace: str
    steps: list[str]
    vignette: str
    gold: GoldNames
    correct: bool | None  # the grade that counts (a clinician's wins); None: pending or ungraded
    rank: int | None  # rank of the gold among the listed diagnoses, when graded correct
    diagnoses: list[str]
    k: int
    red_flags: list[RedFlagHit] = field(default_factory=list)
    step_vectors: np.ndarray | None = None  # (steps x dim) unit vectors
    case_vectors: np.ndarray | None = None  # (vignette chunks x dim) unit vectors
    flag_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # red flag id -> (terms x dim)
    cache: dict[Any, Any] = field(default_factory=dict)  # work the signals of one response share

    def step_sentences(self) -> list[list[Sentence]]:
        """The sentences of each step (computed once per response)."""
        if "sentences" not in self.cache:
            self.cache["sentences"] = [sentences(step) for step in self.steps]
        return self.cache["sentences"]


@dataclass(frozen=True)
class SignalResult:
    fired: bool | None
    summary: str  # one line saying why
    evidence: tuple[Evidence, ...] = ()
    score: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> list[int]:
        return sorted({e.step for e in self.evidence if e.step is not None})


class Signal:
    """Base of every signal plug-in."""

    name: ClassVar[str]
    error_mode: ClassVar[str]
    version: ClassVar[str] = "1"
    title: ClassVar[str]  # short label for tables and the app
    needs_vectors: ClassVar[bool] = False

    def compute(self, item: SignalInput) -> SignalResult:  # pragma: no cover - abstract
        raise NotImplementedError


_SIGNALS: dict[str, type[Signal]] = {}


def signal(cls: type[Signal]) -> type[Signal]:
    """Register a signal class under its name."""
    if cls.name in _SIGNALS and _SIGNALS[cls.name] is not cls:
        raise ValueError(f"signal {cls.name!r} is registered twice")
    _SIGNALS[cls.name] = cls
    return cls


def registered() -> list[Signal]:
    """One instance of every registered signal, in registration order."""
    from pipeline.signals import _plugins  # noqa: F401  (registers the shipped signals)

    return [cls() for cls in _SIGNALS.values()]


def get_signal(name: str) -> Signal:
    registered()
    if name not in _SIGNALS:
        from pipeline.errors import DxTraceError

        raise DxTraceError(f"unknown signal {name!r}; known: {', '.join(_SIGNALS)}")
    return _SIGNALS[name]()


SignalFn = Callable[[SignalInput], SignalResult]
