"""A pair side by side (leads): one case, the reasoning model and its base model next to each other."""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from db.models import Case, Study
from pipeline.annotation import PairCase, PairSide, model_pairs, pair_cases, pair_side, study_codebook

VERDICT = {True: "correct", False: "wrong", None: "not graded yet"}


def case_label(p: PairCase) -> str:
    mark = " · discordant" if p.discordant else ""
    return f"case {p.case_key}: {VERDICT[p.reasoning_correct]} / {VERDICT[p.base_correct]}{mark}"


def side_summary(side: PairSide, names: dict[str, str]) -> list[str]:
    """The plain lines above a response: grade, labels, final label (names of modes from the codebook)."""
    show = lambda modes: ", ".join(names.get(c, c) for c in modes) or "none"  # noqa: E731
    lines = [f"Grade: {VERDICT[side.correct]}" + (f" ({side.grade_method})" if side.grade_method else "")]
    lines += [f"Labels by {who}: {show(modes)}" for who, modes in side.labels] or ["No labels yet."]
    if side.final is not None:
        lines.append(f"Final ({side.final_method}): {show(side.final)}")
    return lines


def _side(title: str, sides: list[PairSide], names: dict[str, str]) -> None:
    st.subheader(_ui.md_line(title))
    for side in sides:
        if len(sides) > 1:
            st.markdown(f"**Repeat {side.repeat}**")
        _ui.show_text("\n".join(side_summary(side, names)))
        st.markdown("**Answer**")
        _ui.show_text("\n".join(f"{i}. {d}" for i, d in enumerate(side.diagnoses, 1)) or side.answer)
        st.markdown(f"**Trace · {len(side.steps)} steps**")
        if not side.steps:
            st.caption("No reasoning trace.")
        for n, text in enumerate(side.steps, 1):
            st.markdown(f"**Step {n}**")
            _ui.show_text(text)


@view("Pair side by side", slug="pair", roles=ROLES_LEAD, order=64, icon=":material/compare:")
def render(ctx: ViewContext) -> None:
    st.title("Pair side by side")
    if ctx.study_id is None:
        st.info("There is no study yet.")
        return
    with _ui.session(ctx.engine) as s:
        pairs = model_pairs(s, ctx.study_id)
    if not pairs:
        st.info("No reasoning model of this study is paired with a base model (paired_with in the study file).")
        return
    labels = {i: p.label for i, p in enumerate(pairs)}
    which = st.selectbox("Pair", options=list(labels), format_func=labels.get, key="pair_pick")
    pair = pairs[which]
    with _ui.session(ctx.engine) as s:
        cases = pair_cases(s, ctx.study_id, pair)
    if not cases:
        st.info("The two models have no case in common yet.")
        return
    by_id = {c.case_id: c for c in cases}
    st.caption(f"{sum(c.discordant for c in cases)} of {len(cases)} cases discordant (listed first).")
    case_id = st.selectbox(
        "Case", options=list(by_id), format_func=lambda c: case_label(by_id[c]), key=f"pair_case_{which}"
    )
    with _ui.session(ctx.engine) as s:
        case = s.get(Case, case_id)
        _, codebook = study_codebook(s, s.get(Study, ctx.study_id))
        left = pair_side(s, ctx.study_id, pair.reasoning.id, case_id)
        right = pair_side(s, ctx.study_id, pair.base.id, case_id)
    names = {m.code: m.name for m in codebook.error_modes}
    with st.expander(f"Case {_ui.md_line(case.case_key)} · gold diagnosis", expanded=False):
        _ui.show_text(f"Gold diagnosis: {case.gold_diagnosis}")
        _ui.show_text(case.vignette)
    cols = st.columns(2, gap="large")
    with cols[0]:
        _side(pair.reasoning.name, left, names)
    with cols[1]:
        _side(pair.base.name, right, names)
