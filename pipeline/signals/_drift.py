"""Pure measures of a trace's course: similarity to the case per step, compression novelty, loops."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

from pipeline.accuracy import normalise

MIN_STEP_CHARS = 60  # shorter steps ("Wait.", "Hmm, let me think.") neither leave the case nor return
OFF_CASE_FLOOR = 0.2  # a step below this cosine to the case is off it, whatever the trace's own level
OFF_CASE_RELATIVE = 0.5  # ... or below half the trace's median similarity to its case
MIN_TAIL_SHARE = 0.2  # the trace must spend at least this share of its characters off the case
MIN_TAIL_STEPS = 2
REPEAT_NOVELTY = 0.25  # a step that adds less than this share of new information repeats earlier text
MIN_LOOP_STEPS = 3  # repeated steps that make a loop
MIN_REPEATED_SENTENCE_WORDS = 6
MIN_SENTENCE_REPEATS = 3


def case_similarity(step_vectors: np.ndarray, case_vectors: np.ndarray) -> np.ndarray:
    """Per step, its cosine to the closest piece of the vignette (all vectors are unit length)."""
    if not len(step_vectors) or not len(case_vectors):
        return np.zeros(len(step_vectors))
    return (step_vectors @ case_vectors.T).max(axis=1)


def off_case_threshold(sims: np.ndarray, substantive: np.ndarray) -> float:
    level = float(np.median(sims[substantive])) if substantive.any() else 0.0
    return max(OFF_CASE_FLOOR, OFF_CASE_RELATIVE * level)


def leave_point(sims: np.ndarray, lengths: Sequence[int]) -> tuple[int | None, float, float]:
    """(0-based step where the trace leaves the case for good, share of characters from there, threshold).

    The leave step is the first substantive step after which no substantive step comes back above the
    threshold; it counts only if the tail holds MIN_TAIL_STEPS substantive steps and MIN_TAIL_SHARE of the text.
    """
    lengths = np.asarray(lengths)
    substantive = lengths >= MIN_STEP_CHARS
    threshold = off_case_threshold(sims, substantive)
    on = np.flatnonzero(substantive & (sims >= threshold))
    last_on = int(on[-1]) if len(on) else -1
    tail = [i for i in range(last_on + 1, len(sims)) if substantive[i]]
    if len(tail) < MIN_TAIL_STEPS:
        return None, 0.0, threshold
    share = float(lengths[tail[0] :].sum() / max(1, lengths.sum()))
    return (tail[0], share, threshold) if share >= MIN_TAIL_SHARE else (None, share, threshold)


def novelty(steps: Sequence[str]) -> list[float]:
    """Per step, the share of its compressed size that the text before it does not already explain
    (1 = all new, near 0 = repeats what came before); zlib at level 9, the 32 kB window of DEFLATE."""
    out: list[float] = []
    before = b""
    size_before = 0
    for step in steps:
        data = step.encode("utf-8")
        alone = len(zlib.compress(data, 9))
        joined = len(zlib.compress(before + b"\n" + data, 9)) if before else alone
        out.append(float(min(1.0, max(0.0, (joined - size_before) / max(1, alone)))))
        before = (before + b"\n" + data)[-32768:]
        size_before = len(zlib.compress(before, 9))
    return out


def repeated_runs(novelties: Sequence[float], lengths: Sequence[int]) -> list[list[int]]:
    """Runs (0-based steps) of consecutive substantive steps that repeat earlier text, MIN_LOOP_STEPS or longer."""
    runs, current = [], []
    for i, (n, length) in enumerate(zip(novelties, lengths, strict=True)):
        if length < MIN_STEP_CHARS:
            continue  # short steps neither break nor extend a run
        if n < REPEAT_NOVELTY:
            current.append(i)
        else:
            if len(current) >= MIN_LOOP_STEPS:
                runs.append(current)
            current = []
    if len(current) >= MIN_LOOP_STEPS:
        runs.append(current)
    return runs


def repeated_sentences(sentences_by_step: Sequence[Sequence[str]]) -> dict[str, list[int]]:
    """Normalised sentences of at least MIN_REPEATED_SENTENCE_WORDS words said MIN_SENTENCE_REPEATS times or
    more, with the 0-based steps that say them."""
    where: dict[str, list[int]] = {}
    counts: Counter[str] = Counter()
    for i, sents in enumerate(sentences_by_step):
        for s in sents:
            key = normalise(s)
            if len(key.split()) >= MIN_REPEATED_SENTENCE_WORDS:
                counts[key] += 1
                where.setdefault(key, []).append(i)
    return {k: where[k] for k, c in counts.items() if c >= MIN_SENTENCE_REPEATS}
