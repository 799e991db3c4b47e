"""Generation: run models on case sets and record their reasoning traces.

Public face of the package; the parts live in small private modules.
"""

from __future__ import annotations

from pipeline.generate._parse import clean_text, normalise_option, parse_choice, parse_diagnoses, split_reasoning

__all__ = [
    "clean_text",
    "normalise_option",
    "parse_choice",
    "parse_diagnoses",
    "split_reasoning",
]
