""" "Similar traces" beside the trace being labelled, and the neighbours' suggested labels when the study allows it.

A visible suggestion can anchor a clinician, so the labels of other traces (and the
suggestion made from them) appear only when the lead turned Study.show_suggestions
on; the annotation then records what was shown (save_annotation(suggestion=...)).
Model names follow the study's blinding. Trace text is model output: plain text only.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from sqlmodel import select

from annotator import _ui
from annotator.registry import ViewContext
from db.models import Embedding, Study
from pipeline.errors import DxTraceError


@dataclass(frozen=True)
class SimilarPanel:
    """What the panel shows, decided without Streamlit (tests call this directly)."""

    similar: list  # SimilarResponse, labels removed when suggestions are off
    suggestion: object | None  # LabelSuggestion, only when suggestions are on
    show_labels: bool
    show_models: bool
    names: dict[str, str]  # error-mode code -> name in the study's codebook

    def recorded(self) -> dict | None:
        """What Annotation.suggestion records: the suggestion and the neighbours whose labels were visible."""
        if not self.show_labels or (self.suggestion is None and not any(s.error_modes for s in self.similar)):
            return None
        out = self.suggestion.to_dict() if self.suggestion is not None else {"error_modes": []}
        out["similar_shown"] = [s.response_id for s in self.similar]
        return out


def similar_panel(session, ctx: ViewContext, response_id: int, *, n: int = 5) -> SimilarPanel:
    from dataclasses import replace

    from pipeline.annotation import study_codebook
    from pipeline.cluster import similar_responses, suggest_labels

    study = session.get(Study, ctx.study_id)
    if study is None:
        raise DxTraceError(f"no study with id {ctx.study_id}")
    show_labels = bool(study.show_suggestions)
    # Neighbours need this trace's vector: without one, do not read the study's every text and vector
    # (10,000 traces of 25,000 characters took most of a page run; docs/benchmarks.md).
    embedded = session.exec(
        select(Embedding.id).where(Embedding.response_id == response_id, Embedding.field == "trace").limit(1)
    ).first()
    similar = similar_responses(session, study.id, response_id, n=n) if embedded is not None else []
    if not show_labels:  # suggestions off: nothing about other responses' grades or labels
        similar = [replace(s, error_modes=None, correct=None) for s in similar]
    suggestion = suggest_labels(session, study.id, response_id) if show_labels and embedded is not None else None
    _, codebook = study_codebook(session, study)
    names = {m.code: m.name for m in codebook.error_modes}
    return SimilarPanel(similar, suggestion, show_labels, ctx.is_lead or not study.blind_models, names)


def load_similar_panel(ctx: ViewContext, response_id: int, *, n: int = 5) -> SimilarPanel | None:
    """The panel's content, or None (with the reason shown) when it cannot be had."""
    if ctx.study_id is None:
        return None
    try:
        with _ui.session(ctx.engine) as s:
            return similar_panel(s, ctx, response_id, n=n)
    except DxTraceError as exc:
        _ui.show_error(exc)
        return None


def show_similar_panel(panel: SimilarPanel) -> None:
    st.markdown("**Similar traces**")
    if not panel.similar:
        st.caption("No similar traces yet: this study's traces are not embedded (python -m pipeline embed).")
        return
    if panel.suggestion is not None:
        modes = ", ".join(panel.names.get(c, c) for c in panel.suggestion.error_modes)
        st.info(
            f"Suggested from the {len(panel.suggestion.neighbours)} nearest labelled traces: **{_ui.md_line(modes)}**. "
            "A suggestion, not an answer: decide from this trace."
        )
    elif panel.show_labels:
        st.caption("No labelled neighbours yet, so no suggestion.")
    for sim in panel.similar:
        bits = [f"similarity {sim.similarity:.2f}", f"case {sim.case_key}"]
        if sim.same_case:
            bits.append("same case")
        if panel.show_models:
            bits.append(sim.model)
        if sim.correct is not None:
            bits.append("correct" if sim.correct else "incorrect")
        if panel.show_labels:
            bits.append(", ".join(panel.names.get(c, c) for c in sim.error_modes) if sim.error_modes else "unlabelled")
        with st.expander(_ui.md_line(" · ".join(bits))):
            _ui.show_text(sim.snippet)


def render_similar_panel(ctx: ViewContext, response_id: int, *, n: int = 5) -> dict | None:
    """Show the traces most similar to this one; returns the suggestion shown (for save_annotation), or None."""
    panel = load_similar_panel(ctx, response_id, n=n)
    if panel is None:
        return None
    show_similar_panel(panel)
    return panel.recorded()
