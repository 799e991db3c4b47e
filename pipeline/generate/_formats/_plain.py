"""Answer-only text: no reasoning to split off."""

from __future__ import annotations

from pipeline.generate._formats._registry import Split, reader


@reader("plain", order=1000)
def read_plain(text: str) -> Split:
    return Split(None, text.strip())
