"""Automatic error signals in the trace: deterministic, offline, quote-verified evidence for clinicians.

Each signal is a plug-in (@signal, pipeline/signals/_plugins/) tied to one codebook error mode; it
stores whether it fired, the steps it points at and exact quotes of the trace or vignette. A signal is
evidence for a clinician to weigh, not a label. docs/signals.md says what each one means and how it fails.
"""

from __future__ import annotations

from pipeline.signals._drift import case_similarity, leave_point, novelty, repeated_runs, repeated_sentences
from pipeline.signals._gold import case_gold_names, find_mention, gold_names, grading_match
from pipeline.signals._quotes import quote_ok, verified
from pipeline.signals._redflags import (
    DEFAULT_VERSION,
    REDFLAG_DIR,
    RedFlag,
    RedFlagSet,
    active_redflags,
    available_versions,
    flags_in_vignette,
    from_row,
    load_redflags,
    load_shipped,
    parse_redflags,
    read_redflags_file,
    store_redflags,
    taken_up,
)
from pipeline.signals._registry import (
    Evidence,
    RedFlagHit,
    Signal,
    SignalInput,
    SignalResult,
    get_signal,
    registered,
    signal,
)
from pipeline.signals._study import (
    SignalSummary,
    compute_study_signals,
    response_signals,
    signals_frame,
)
from pipeline.signals._text import sentences
from pipeline.signals._validate import (
    MIN_CLASS,
    MIN_LABELLED,
    NOT_ENOUGH,
    Stat,
    Validation,
    study_validation,
    validate,
    validation_rows,
    validation_table,
)
from pipeline.signals._view import ShownSignal, SignalsOnScreen, signals_on_screen

__all__ = [
    "DEFAULT_VERSION",
    "MIN_CLASS",
    "MIN_LABELLED",
    "NOT_ENOUGH",
    "REDFLAG_DIR",
    "Evidence",
    "RedFlag",
    "RedFlagHit",
    "RedFlagSet",
    "ShownSignal",
    "Signal",
    "SignalInput",
    "SignalResult",
    "SignalSummary",
    "SignalsOnScreen",
    "Stat",
    "Validation",
    "active_redflags",
    "available_versions",
    "case_gold_names",
    "case_similarity",
    "compute_study_signals",
    "find_mention",
    "flags_in_vignette",
    "from_row",
    "get_signal",
    "gold_names",
    "grading_match",
    "leave_point",
    "load_redflags",
    "load_shipped",
    "novelty",
    "parse_redflags",
    "quote_ok",
    "read_redflags_file",
    "registered",
    "repeated_runs",
    "repeated_sentences",
    "response_signals",
    "sentences",
    "signal",
    "signals_frame",
    "signals_on_screen",
    "store_redflags",
    "study_validation",
    "taken_up",
    "validate",
    "validation_rows",
    "validation_table",
    "verified",
]
