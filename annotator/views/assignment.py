"""The lead's assignment page: assign responses; move or unassign items; give a newcomer a share.

Moving and adding are previewed first (the items, each annotator's load before and after, what is
refused and why) and applied in one transaction only while the study still gives the same preview.
The logic is in pipeline.annotation (_assign.py, _reassign.py); this page only draws it.
"""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from pipeline.annotation import (
    NEWCOMER_TITLES,
    ItemPick,
    Newcomer,
    Plan,
    Reassign,
    Selection,
    apply_newcomer,
    apply_reassign,
    assign,
    default_selection,
    holdings,
    list_annotators,
    loads,
    parse_id_list,
    preview_newcomer,
    preview_reassign,
    responses_with_trace,
)
from pipeline.errors import DxTraceError

CHOICES = {
    "incorrect": "Incorrect responses with a reasoning trace (graded wrong)",
    "traced": "All responses with a reasoning trace",
    "ids": "These response ids",
}


def chosen_responses(
    session, study_id: int, choice: str, ids_text: str = "", *, include_answer_only: bool = False
) -> Selection:
    """The responses a choice of the form stands for, and what the default choice left out."""
    if choice == "incorrect":
        return default_selection(session, study_id, include_answer_only=include_answer_only)
    if choice == "traced":
        return Selection(responses_with_trace(session, study_id))
    return Selection(parse_id_list(ids_text))


def chosen_response_ids(session, study_id: int, choice: str, ids_text: str = "") -> list[int]:
    return chosen_responses(session, study_id, choice, ids_text).response_ids


@view("Assignment", slug="assignment", roles=ROLES_LEAD, order=61, icon=":material/assignment_ind:")
def render(ctx: ViewContext) -> None:
    st.title("Assignment")
    if not ctx.is_lead:  # the navigation shows this page to leads only; a second guard costs nothing
        st.error("Only a study lead can change assignments.")
        return
    if ctx.study_id is None:
        st.info("There is no study yet. Create one with: python -m pipeline study")
        return
    with _ui.session(ctx.engine) as s:
        people = [p for p in list_annotators(s, active_only=True)]
        held = holdings(s, ctx.study_id)
    if not people:
        st.info("No accounts yet. Add them on the Accounts page (or: python -m pipeline users add NAME).")
        return
    st.subheader("Who has what")
    top = st.container()  # filled last: an assignment made further down shows at once
    assign_tab, move_tab, add_tab = st.tabs(["Assign responses", "Move or unassign items", "Add an annotator"])
    with assign_tab:
        _assign_form(ctx, people)
    with move_tab:
        _move_section(ctx, people, held)
    with add_tab:
        _newcomer_section(ctx, people, held)
    with _ui.session(ctx.engine) as s, top:
        _load_table(holdings(s, ctx.study_id))


def _load_table(held) -> None:
    if not held:
        st.caption("Nothing is assigned yet.")
        return
    inactive = {h.username for h in held if not h.active}
    rows = [
        {
            "annotator": n + (" (deactivated)" if n in inactive else ""),
            "assigned": load.assigned,
            "labelled": load.labelled,
            "to do": load.to_do,
        }
        for n, load in sorted(loads(held).items())
    ]
    st.table(rows, hide_index=True)  # a handful of rows, readable as text (and by a screen reader)


def _assign_form(ctx: ViewContext, people) -> None:
    names = {p.id: f"{p.username} ({p.role})" for p in people}
    st.caption(
        "Each item goes to the chosen number of annotators, the load is balanced, and every annotator gets "
        "their own random order. Assigning again adds to what is there."
    )
    with st.form("assign_form"):
        choice = st.radio("Responses", options=list(CHOICES), format_func=CHOICES.get, key="assign_choice")
        answer_only = st.checkbox(
            "Also incorrect answer-only responses (no trace: nothing to judge but the answer)",
            key="assign_answer_only",
        )
        ids_text = st.text_area(
            "Response ids (for 'These response ids')", key="assign_ids", placeholder="12, 15, 20-30"
        )
        annotator_ids = st.multiselect(
            "Annotators",
            options=list(names),
            default=[p.id for p in people if p.role == "annotator"],
            format_func=names.get,
            key="assign_annotators",
        )
        cols = st.columns(4)
        per_item = cols[0].number_input("Annotators per item", min_value=1, max_value=20, value=2, key="assign_per")
        extra_share = cols[1].number_input(
            "Share of items to more annotators", min_value=0.0, max_value=1.0, value=0.0, step=0.05, key="assign_share"
        )
        extra_per_item = cols[2].number_input(
            "Annotators for that share", min_value=1, max_value=20, value=3, key="assign_extra"
        )
        seed = cols[3].number_input("Random seed", min_value=0, value=0, key="assign_seed")
        submitted = st.form_submit_button("Assign", type="primary")
        if not submitted:
            return
        try:
            with _ui.session(ctx.engine) as s:
                chosen = chosen_responses(s, ctx.study_id, choice, ids_text, include_answer_only=answer_only)
                report = assign(
                    s,
                    ctx.study_id,
                    response_ids=chosen.response_ids,
                    annotator_ids=annotator_ids,
                    per_item=int(per_item),
                    extra_share=float(extra_share),
                    extra_per_item=int(extra_per_item),
                    seed=int(seed),
                )
        except DxTraceError as exc:
            _ui.show_error(exc)  # by the button, where the eye is
            return
    st.success(_ui.md(report.summary()))
    if any(chosen.left_out.values()):
        st.info(_ui.md(chosen.note() + ". Tick 'Also incorrect answer-only responses' to include them."))
    st.dataframe(
        [{"annotator": n, "new": report.added[n], "total": report.load[n]} for n in report.load],
        hide_index=True,
    )


# ---------------------------------------------------------------- preview, then apply

PLAN_KEY = "{}_plan"  # (request, fingerprint, plan) of the preview on screen
DONE_KEY = "{}_done"  # the summary of what was applied
FAILED_KEY = "{}_failed"


def _show_plan(plan: Plan, prefix: str) -> None:
    st.markdown(f"**Preview:** {_ui.md(plan.summary())}")
    rows = plan.load_rows()
    if rows:
        st.table(rows, hide_index=True)
    if plan.changes:
        with st.expander(f"Items that change ({len(plan.changes)})"):
            st.dataframe(plan.item_rows(), hide_index=True, key=f"{prefix}_preview_items")
    if plan.refused:
        st.warning(f"{len(plan.refused)} item(s) refused; they stay where they are:")
        st.dataframe(plan.refusal_rows(), hide_index=True, key=f"{prefix}_preview_refused")


def _apply(prefix: str, engine, study_id: int, apply_fn) -> None:
    """Button callback: apply the previewed request, refused if the study no longer gives that preview."""
    stored = st.session_state.pop(PLAN_KEY.format(prefix), None)
    if stored is None:  # a second click on the same Apply: it was applied once
        return
    request, fingerprint, _plan = stored
    st.session_state.pop(f"{prefix}_table", None)  # row numbers picked in the old table mean other items now
    try:
        with _ui.session(engine) as s:
            plan = apply_fn(s, study_id, request, expected=fingerprint)
    except DxTraceError as exc:
        st.session_state[FAILED_KEY.format(prefix)] = exc
        return
    st.session_state[DONE_KEY.format(prefix)] = plan.summary()


def _preview_and_apply(ctx: ViewContext, prefix: str, request, preview_fn, apply_fn) -> None:
    """The Preview button, the preview of the current request, and its Apply button."""
    done = st.session_state.pop(DONE_KEY.format(prefix), None)
    failed = st.session_state.pop(FAILED_KEY.format(prefix), None)
    if st.button("Preview changes", key=f"{prefix}_preview"):
        try:
            with _ui.session(ctx.engine) as s:
                plan = preview_fn(s, ctx.study_id, request)
            st.session_state[PLAN_KEY.format(prefix)] = (request, plan.fingerprint, plan)
        except DxTraceError as exc:
            st.session_state.pop(PLAN_KEY.format(prefix), None)
            _ui.show_error(exc)
    if done:
        st.success(f"Applied: {_ui.md(done)}. The table above shows the new counts.")
    if failed:
        _ui.show_error(failed)
    stored = st.session_state.get(PLAN_KEY.format(prefix))
    if stored is None:
        return
    if stored[0] != request:  # the choice changed since: that preview no longer says what Apply would do
        st.session_state.pop(PLAN_KEY.format(prefix), None)
        st.caption("The choice changed: preview again.")
        return
    plan = stored[2]
    _show_plan(plan, prefix)
    st.button(
        "Apply changes",
        key=f"{prefix}_apply",
        type="primary",
        disabled=not plan.changes,
        on_click=_apply,
        args=(prefix, ctx.engine, ctx.study_id, apply_fn),
    )


# ---------------------------------------------------------------- move or unassign

MOVE, UNASSIGN = "move", "unassign"


def _move_section(ctx: ViewContext, people, held) -> None:
    if not held:
        st.info("Nothing is assigned yet.")
        return
    st.caption(
        "Pick items by annotator, case, model or response id, or select rows in the table. Items an "
        "annotator has already labelled are refused unless you keep their annotations: the labels then "
        "stay in the study under their author's name."
    )
    holders = sorted({h.username for h in held})
    cols = st.columns(3)
    sources = cols[0].multiselect("From annotators", holders, key="mv_from")
    cases = cols[1].multiselect("Cases", sorted({h.case_key for h in held}), key="mv_cases")
    models = cols[2].multiselect("Models", sorted({h.model for h in held}), key="mv_models")
    ids_text = st.text_input("Response ids", key="mv_ids", placeholder="12, 15, 20-30")
    try:
        ids = tuple(parse_id_list(ids_text, "response ids")) if ids_text.strip() else ()
    except DxTraceError as exc:
        _ui.show_error(exc)
        return
    pick = ItemPick(tuple(sources), ids, tuple(cases), tuple(models))
    listed = [h for h in held if not pick.is_empty() and pick.matches(h)]
    pairs: tuple = ()
    if listed:
        table = [
            {
                "response": h.response_id,
                "case": h.case_key,
                "model": h.model,
                "annotator": h.username,
                "status": h.status,
                "labelled": "yes" if h.annotated else "",
            }
            for h in listed
        ]
        st.caption(f"{len(listed)} item(s) match. Select rows to act on those only.")
        event = st.dataframe(
            table, hide_index=True, key="mv_table", on_select="rerun", selection_mode="multi-row", height=280
        )
        chosen = list(getattr(getattr(event, "selection", None), "rows", []) or [])
        pairs = tuple((listed[i].response_id, listed[i].username) for i in chosen if i < len(listed))
    if pairs:
        pick = ItemPick(pairs=pairs)
    action = st.radio(
        "Do",
        [MOVE, UNASSIGN],
        format_func={MOVE: "Move them to another annotator", UNASSIGN: "Unassign them"}.get,
        horizontal=True,
        key="mv_action",
    )
    target = None
    if action == MOVE:
        targets = [p.username for p in people]
        target = st.selectbox("To", targets, index=None, placeholder="Choose an annotator", key="mv_to")
    keep = st.checkbox(
        "Keep annotations: move or unassign labelled items too (their labels stay their author's)", key="mv_keep"
    )
    seed = st.number_input("Random seed (order in the new queue)", min_value=0, value=0, key="mv_seed")
    if action == MOVE and target is None:
        st.caption("Choose who gets the items, then preview.")
        return
    request = Reassign(pick, to=target, keep_annotations=keep, seed=int(seed))
    _preview_and_apply(ctx, "mv", request, preview_reassign, apply_reassign)


# ---------------------------------------------------------------- a newcomer mid-study


def _newcomer_section(ctx: ViewContext, people, held) -> None:
    if not held:
        st.info("Nothing is assigned yet: use 'Assign responses'.")
        return
    st.caption(
        "Give someone who joins now a share of the work. Make the account on the Accounts page first. "
        "Labelled items never change hands."
    )
    who = st.selectbox(
        "Annotator", [p.username for p in people], index=None, placeholder="Choose an account", key="nc_who"
    )
    mode = st.radio("How", list(NEWCOMER_TITLES), format_func=NEWCOMER_TITLES.get, key="nc_mode")
    cols = st.columns(3)
    count = cols[0].number_input(
        "Number of items (0: an even share)" if mode == "take" else "Number of items (0: use the share)",
        min_value=0,
        value=0,
        key="nc_count",
    )
    share = 0.0
    if mode != "take":
        share = cols[1].number_input(
            "Share of the study's items", min_value=0.0, max_value=1.0, value=0.2, step=0.05, key="nc_share"
        )
    seed = cols[2].number_input("Random seed", min_value=0, value=0, key="nc_seed")
    if who is None:
        st.caption("Choose the annotator, then preview.")
        return
    request = Newcomer(
        who,
        mode=mode,
        count=int(count) or None,
        share=(float(share) or None) if mode != "take" and not count else None,
        seed=int(seed),
    )
    _preview_and_apply(ctx, "nc", request, preview_newcomer, apply_newcomer)
