"""Fixtures for the signal tests: the real embedding model, and inputs built from purpose-made traces."""

from __future__ import annotations

import pytest

from pipeline.annotation._steps import split_steps
from pipeline.signals import SignalInput, gold_names


@pytest.fixture(scope="session")
def st_model():
    from pipeline.local_models import load_embedding_model

    return load_embedding_model()


def make_input(
    trace: str,
    *,
    vignette: str = "A patient.",
    gold: str = "Acute appendicitis",
    correct: bool | None = False,
    rank: int | None = None,
    diagnoses: list[str] | None = None,
    red_flags=None,
) -> SignalInput:
    return SignalInput(
        response_id=1,
        trace=trace,
        steps=split_steps(trace),
        vignette=vignette,
        gold=gold_names(gold),
        correct=correct,
        rank=rank,
        diagnoses=diagnoses or [],
        k=5,
        red_flags=list(red_flags or []),
    )
