"""The adjudication queue: each disagreement side by side (annotators as A, B, C), the trace with their
evidence steps, and the lead's final labels."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlmodel import func, select

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from db.models import FinalLabel, Study
from pipeline.agreement import (
    NO_ERROR,
    Disagreement,
    adjudicate,
    disagreements,
    get_disagreement,
    settle_final_labels,
)
from pipeline.annotation import listed_diagnoses, settled_no_error, split_steps, study_codebook
from pipeline.errors import DxTraceError


def side_by_side(d: Disagreement, names: dict[str, str]) -> pd.DataFrame:
    """One column per annotator alias: error modes, evidence steps, first error step, severity, confidence."""
    cols = {}
    for r in d.raters:
        cols[r.alias] = {
            "error modes": ", ".join(names.get(c, c) for c in r.error_modes),
            "evidence steps": "; ".join(
                f"{names.get(code, code)}: {', '.join(map(str, steps))}" for code, steps in r.evidence.items()
            ),
            "first error step": "" if r.first_error_step is None else str(r.first_error_step),
            "severity": r.severity or "",
            "confidence": "" if r.confidence is None else str(r.confidence),
            "other (described)": r.other_description or "",
            "flagged": "yes" if r.flagged else "",
        }
    return pd.DataFrame(cols)


def step_rows(d: Disagreement, only_cited: bool) -> list[tuple[int, str, str]]:
    """(step number, who cited it for what, step text) for the trace's steps."""
    steps = split_steps(d.trace)
    cited = d.evidence_by_step()
    out = []
    for i, text in enumerate(steps, 1):
        refs = cited.get(i, [])
        if only_cited and not refs:
            continue
        out.append((i, "; ".join(f"{alias}: {what}" for alias, what in refs), text))
    return out


def queue_label(d: Disagreement) -> str:
    votes = ", ".join(f"{k} {v}/{d.decision.n_ratings}" for k, v in sorted(d.decision.votes.items()))
    return f"response {d.response_id} · case {d.case_key} · {votes}"


def _method_counts(session, study_id: int) -> dict[str, int]:
    rows = session.exec(
        select(FinalLabel.method, func.count()).where(FinalLabel.study_id == study_id).group_by(FinalLabel.method)
    ).all()
    return {m: int(n) for m, n in rows}


@view("Adjudication", slug="adjudication", roles=ROLES_LEAD, order=63, icon=":material/gavel:")
def render(ctx: ViewContext) -> None:
    st.title("Adjudication")
    if ctx.study_id is None:
        st.info("There is no study yet. Create one with: python -m pipeline study")
        return
    if st.button(
        "Settle agreements", key="adj_settle", help="final labels where annotators are unanimous or a majority"
    ):
        with _ui.session(ctx.engine) as s:
            st.session_state["adj_settled"] = settle_final_labels(s, ctx.study_id).summary()
    if st.session_state.get("adj_settled"):
        st.success(_ui.md(st.session_state["adj_settled"]))
    decided = st.session_state.pop("adj_notice", None)
    if decided:
        st.success(_ui.md_line(decided))
    review = st.toggle("Also review settled responses (majority and adjudicated)", key="adj_review")
    with _ui.session(ctx.engine) as s:
        study = s.get(Study, ctx.study_id)
        _, codebook = study_codebook(s, study)
        queue = disagreements(s, ctx.study_id, include_settled=review)
        waiting = queue if not review else disagreements(s, ctx.study_id)
        counts = _method_counts(s, ctx.study_id)
    names = {m.code: m.name for m in codebook.error_modes}
    cols = st.columns(4)
    cols[0].metric("Unanimous", counts.get("unanimous", 0))
    cols[1].metric("Majority", counts.get("majority", 0))
    cols[2].metric("Adjudicated", counts.get("adjudicated", 0))
    cols[3].metric("Waiting", len(waiting))
    _no_error_grades(ctx)
    move_on = st.session_state.pop("adj_move_on", False)
    if not queue:
        st.info("Nothing waiting for adjudication. Press 'Settle agreements' after annotators have labelled items.")
        return

    if move_on:  # set, not only forgotten: a browser keeps showing the decided response unless told the new one
        st.session_state["adj_pick"] = queue[0].response_id
    picked = st.selectbox(
        "Response", [d.response_id for d in queue], format_func=lambda r: queue_label(_by_id(queue, r)), key="adj_pick"
    )
    with _ui.session(ctx.engine) as s:
        d = get_disagreement(s, ctx.study_id, picked)
    st.caption(
        _ui.md_line(
            f"Case {d.case_key}"
            + ("" if study.blind_models else f" · model {d.model}")
            + f" · {d.decision.n_ratings} annotators · {d.decision.status}"
            + (f" ({d.decision.note})" if d.decision.note else "")
            + (f" · final: {', '.join(d.final_error_modes)} ({d.final_method})" if d.final_method else "")
        )
    )
    with st.expander("Case and answer"):
        st.markdown(f"**Gold diagnosis:** {_ui.md_line(d.gold_diagnosis)}")
        _ui.show_text(d.vignette)
        st.markdown("**Answer**")
        _ui.show_text(d.answer)

    st.subheader("Annotators side by side")
    st.dataframe(side_by_side(d, names), width="stretch", key="adj_side")
    for r in d.raters:
        if r.rationale:
            st.markdown(f"**{r.alias}'s rationale**")
            _ui.show_text(r.rationale)

    st.subheader("Trace")
    only = st.toggle("Only the steps an annotator cited", value=True, key="adj_only_cited")
    rows = step_rows(d, only)
    if not rows:
        st.caption("No steps to show." if only else "This response has no reasoning trace.")
    for number, refs, text in rows:
        st.markdown(f"**Step {number}**" + (f" — {_ui.md_line(refs)}" if refs else ""))
        _ui.show_text(text)

    st.subheader("Final labels")
    n_steps = len(split_steps(d.trace))
    default = list(d.final_error_modes or ())
    if not default and d.decision.labels is not None:
        default = sorted(d.decision.labels) or [NO_ERROR]
    with st.form(f"adj_form_{d.response_id}"):
        modes = st.multiselect(
            "Error modes",
            options=list(codebook.codes),
            default=[m for m in default if m in codebook.codes],
            format_func=lambda c: names.get(c, c),
            key=f"adj_modes_{d.response_id}",
        )
        step = st.number_input(
            f"First erroneous step (0: none; the trace has {n_steps})",
            min_value=0,
            max_value=max(n_steps, 0),
            value=int(d.final_first_error_step or 0),
            key=f"adj_step_{d.response_id}",
        )
        rationale = st.text_area("Rationale", key=f"adj_rationale_{d.response_id}")
        submitted = st.form_submit_button("Set final labels")
    if submitted:
        try:
            with _ui.session(ctx.engine) as s:
                final = adjudicate(
                    s,
                    study_id=ctx.study_id,
                    response_id=d.response_id,
                    adjudicator_id=ctx.annotator_id,
                    error_modes=modes,
                    first_error_step=int(step) or None,
                    rationale=rationale,
                )
        except DxTraceError as exc:
            _ui.show_error(exc)
            return
        # The counters and the queue are read again, and the next response is shown.
        labels = ", ".join(names.get(c, c) for c in final.error_modes)
        st.session_state["adj_notice"] = f"Response {final.response_id}: {labels}"
        st.session_state["adj_move_on"] = True
        st.rerun()


def _by_id(queue: list[Disagreement], response_id: int) -> Disagreement:
    return next(d for d in queue if d.response_id == response_id)


def _no_error_grades(ctx: ViewContext) -> None:
    """Settled 'no reasoning error' next to the grade that counts: whether the grade followed, and why."""
    with _ui.session(ctx.engine) as s:
        rows = settled_no_error(s, ctx.study_id)
    if not rows:
        return
    standing = sum(not r.follows for r in rows)
    with st.expander(f"Settled 'no reasoning error' and the grade ({len(rows)}; the grade stands for {standing})"):
        st.caption(
            "An annotator who labels 'no reasoning error' says whether the answer is correct (their grade is "
            "recorded, audited, and the grade follows) or the reasoning is sound on an ambiguous case (the "
            "grade stands). You can still record the answer as correct here (your grade, audited)."
        )
        st.table(
            pd.DataFrame(
                [
                    {"response": r.response_id, "case": r.case_key, "final label": r.final_method,
                     "grade": r.grade, "why": r.why}
                    for r in rows
                ]
            )
        )  # fmt: skip
        stands = [r.response_id for r in rows if not r.follows]
        if stands:
            _record_correct(ctx, stands)


def _record_correct(ctx: ViewContext, response_ids: list[int]) -> None:
    from pipeline.accuracy import record_clinician_grade

    cols = st.columns([2, 3, 2], vertical_alignment="bottom")
    rid = cols[0].selectbox("Response", response_ids, key="adj_ne_response")
    with _ui.session(ctx.engine) as s:
        listed = listed_diagnoses(s, rid)
    if not listed:
        cols[1].caption("No diagnoses were parsed from this answer.")
        return
    rank = cols[1].selectbox(
        "Listed diagnosis that is the gold",
        list(range(1, len(listed) + 1)),
        format_func=lambda r: f"{r}. {_ui.md_line(listed[r - 1])}",
        key=f"adj_ne_rank_{rid}",
    )
    if cols[2].button("Record as correct", key="adj_ne_record", width="stretch"):
        try:
            with _ui.session(ctx.engine) as s:
                record_clinician_grade(
                    s,
                    response_id=rid,
                    annotator_id=ctx.annotator_id,
                    rank=rank,
                    note="settled no reasoning error: the answer is correct",
                )
        except DxTraceError as exc:
            _ui.show_error(exc)
            return
        st.session_state["adj_notice"] = f"Response {rid}: recorded as correct (listed #{rank})"
        st.rerun()
