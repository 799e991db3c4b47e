"""Trace and labels on one screen: the labels column stays in view while the page (the trace) scrolls.

The page itself scrolls (no fixed-height box around the vignette or the trace); the labels column is
sticky and scrolls on its own only when it is taller than the window (a fixed style of ours, no script).
"""

from __future__ import annotations

import streamlit as st

LABELS_KEY = "labels_column"
STICKY_CSS = (
    "<style>[data-testid='stColumn']:has(.st-key-labels_column){position:sticky;top:3.75rem;"
    "align-self:flex-start;max-height:calc(100vh - 4.5rem);overflow-y:auto}</style>"
)


def sticky_labels(column):
    """The container in `column` that holds the labels; the column keeps it in view."""
    st.html(STICKY_CSS)
    return column.container(key=LABELS_KEY)
