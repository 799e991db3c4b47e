"""The format readers: each splits a raw output into trace (reasoning) and answer, or passes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

WRAPPER = "wrapper"  # peels reasoning blocks off (tags); the layout readers then read what is left
LAYOUT = "layout"  # finds where the reasoning ends and the answer starts; the first that matches wins


@dataclass(frozen=True)
class Split:
    """What one reader made of a text. `note` says why the split is a guess (recorded, parse_ok=False)."""

    trace: str | None
    answer: str
    note: str | None = None


@dataclass(frozen=True)
class Reader:
    name: str
    stage: str
    order: int
    read: Callable[[str], Split | None]


READERS: list[Reader] = []


def reader(name: str, *, order: int, stage: str = LAYOUT) -> Callable:
    """Register a format reader: `read(text) -> Split | None` (None: this format is not there)."""

    def register(fn: Callable[[str], Split | None]) -> Callable[[str], Split | None]:
        if any(r.name == name for r in READERS):
            raise ValueError(f"format reader {name!r} is registered twice")
        READERS.append(Reader(name, stage, order, fn))
        READERS.sort(key=lambda r: (r.stage != WRAPPER, r.order))
        return fn

    return register


def join(*parts: str | None) -> str | None:
    """Reasoning pieces as one trace; None when there is none."""
    text = "\n\n".join(p.strip() for p in parts if p and p.strip())
    return text or None


EMPTY_SECTION = "the answer section is empty"
