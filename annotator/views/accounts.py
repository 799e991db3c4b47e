"""The lead's accounts page: create annotator and lead accounts, deactivate or reactivate, reset passwords.

Passwords are stored only as argon2 hashes; a temporary password is shown once, on this page, and
never written anywhere else. Deactivation and a new password end the person's sessions
(pipeline.annotation.set_active / set_password revoke their session tokens). The CLI (`users`) stays.
"""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from pipeline.annotation import (
    MIN_PASSWORD_LENGTH,
    create_account,
    is_locked,
    list_annotators,
    reset_password,
    set_account_active,
    unlock,
)
from pipeline.errors import DxTraceError

RESULT = "acc_result_{}"  # per form: ("ok", text) or ("error", exception), shown by its button once
SHOWN_ONCE = "acc_temporary"  # (username, temporary password), popped when drawn


def account_rows(people) -> list[dict]:
    return [
        {
            "username": p.username,
            "name": p.display_name or "",
            "role": p.role,
            "active": "yes" if p.active else "no",
            "sign-in": "locked" if is_locked(p) else "",
            "grading": "yes" if p.role == "lead" or p.can_grade else "no",
            "created": f"{p.created_at:%Y-%m-%d}",
        }
        for p in people
    ]


def _result(form: str) -> None:
    """The outcome of the last action of this form, next to its button."""
    outcome = st.session_state.pop(RESULT.format(form), None)
    if outcome is None:
        return
    kind, value = outcome
    if kind == "ok":
        st.success(_ui.md(value))
    else:
        _ui.show_error(value)
    shown = st.session_state.pop(SHOWN_ONCE, None) if kind == "ok" else None
    if shown:
        username, password = shown
        st.warning(
            f"Temporary password for {_ui.md_line(username)}: give it to them now; it is not shown again "
            "and is stored only as a hash."
        )
        st.code(password, language=None)


def _run(form: str, action) -> None:
    """Button callback: do the action in one transaction; keep its outcome for _result."""
    try:
        message = action()
    except DxTraceError as exc:
        st.session_state[RESULT.format(form)] = ("error", exc)
        return
    st.session_state[RESULT.format(form)] = ("ok", message)


def _create(engine) -> str:
    state = st.session_state
    with _ui.session(engine) as s:
        person, temporary = create_account(
            s,
            state.get("acc_new_username", ""),
            state.get("acc_new_role", "annotator"),
            password=state.get("acc_new_password") or None,
            display_name=state.get("acc_new_name") or None,
        )
        name, role = person.username, person.role
    state["acc_new_password"] = ""  # not kept in the form after use
    if temporary:
        state[SHOWN_ONCE] = (name, temporary)
    return f"Created {role} account {name}."


def _reset(engine, username: str) -> str:
    state = st.session_state
    with _ui.session(engine) as s:
        temporary = reset_password(s, username, state.get("acc_reset_password") or None)
    state["acc_reset_password"] = ""
    if temporary:
        state[SHOWN_ONCE] = (username, temporary)
    return f"New password set for {username}; their open sessions are signed out."


def _activate(engine, actor_id: int, username: str, active: bool) -> str:
    with _ui.session(engine) as s:
        set_account_active(s, actor_id, username, active)
    return f"{username} reactivated." if active else f"{username} deactivated; their open sessions are signed out."


def _unlock(engine, username: str) -> str:
    with _ui.session(engine) as s:
        unlock(s, username)
    return f"{username} can sign in again."


@view("Accounts", slug="accounts", roles=ROLES_LEAD, order=63, icon=":material/group:")
def render(ctx: ViewContext) -> None:
    st.title("Accounts")
    if not ctx.is_lead:  # the navigation shows this page to leads only; a second guard costs nothing
        st.error("Only a study lead can manage accounts.")
        return
    with _ui.session(ctx.engine) as s:
        people = list_annotators(s)
    st.dataframe(account_rows(people), hide_index=True, key="acc_table")

    st.subheader("New account")
    with st.form("acc_new"):
        cols = st.columns(2)
        cols[0].text_input("Username", key="acc_new_username", help="2-64 letters, digits, '.', '_' or '-'")
        cols[1].text_input("Display name (optional)", key="acc_new_name", placeholder="Dr. A. Meyer")
        st.radio("Role", ["annotator", "lead"], horizontal=True, key="acc_new_role")
        st.text_input(
            "Password (leave empty for a temporary one, shown once)",
            type="password",
            key="acc_new_password",
            autocomplete="new-password",
            help=f"At least {MIN_PASSWORD_LENGTH} characters.",
        )
        st.form_submit_button(
            "Create account", type="primary", on_click=_run, args=("new", lambda: _create(ctx.engine))
        )
        _result("new")

    if not people:
        return
    st.subheader("Change an account")
    by_name = {p.username: p for p in people}
    username = st.selectbox("Account", list(by_name), index=None, placeholder="Choose an account", key="acc_who")
    if username is None:
        return
    person = by_name[username]
    st.caption(
        f"{_ui.md_line(person.username)} · {person.role} · {'active' if person.active else 'deactivated'}"
        + (" · locked after failed sign-ins" if is_locked(person) else "")
    )
    cols = st.columns(2)
    with cols[0]:
        if person.active:
            st.button(
                "Deactivate",
                key="acc_deactivate",
                on_click=_run,
                args=("state", lambda: _activate(ctx.engine, ctx.annotator_id, username, False)),
                help="They cannot sign in; their labels stay in the study.",
            )
        else:
            st.button(
                "Reactivate",
                key="acc_activate",
                on_click=_run,
                args=("state", lambda: _activate(ctx.engine, ctx.annotator_id, username, True)),
            )
        if is_locked(person):
            st.button("Unlock", key="acc_unlock", on_click=_run, args=("state", lambda: _unlock(ctx.engine, username)))
        _result("state")
    with cols[1], st.form("acc_reset"):
        st.text_input(
            "New password (leave empty for a temporary one, shown once)",
            type="password",
            key="acc_reset_password",
            autocomplete="new-password",
        )
        st.form_submit_button("Reset password", on_click=_run, args=("reset", lambda: _reset(ctx.engine, username)))
        _result("reset")
