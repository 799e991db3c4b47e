"""A reload keeps the session: the browser keeps a session token in a cookie, the database its hash.

Streamlit gives a script the cookies of the request that opened the session (st.context.cookies);
the cookie is written by a small fixed script of ours. Sign-out revokes the token server side and
clears the cookie; a deactivated account's tokens are revoked (pipeline.annotation.set_active).
"""

from __future__ import annotations

import json

import streamlit as st

from annotator import _ui
from pipeline.annotation import SESSION_HOURS, issue_token, person_for_token, revoke_token

COOKIE = "dxtrace_session"
TOKEN_KEY = "dx_session_token"


def _cookie_token() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no request context (bare mode, AppTest): no cookie
        return None
    return value if isinstance(value, str) else None


def person_from_cookie(engine) -> int | None:
    """The signed-in person of this browser's valid token, if any (called when the session is new)."""
    token = _cookie_token()
    if not token:
        return None
    with _ui.session(engine) as s:
        person = person_for_token(s, token)
        person_id = person.id if person else None
    if person_id is not None:
        st.session_state[TOKEN_KEY] = token
    return person_id


def remember(engine, person_id: int) -> None:
    """After a sign-in: a new token for this browser (written into the cookie on the next page)."""
    with _ui.session(engine) as s:
        st.session_state[TOKEN_KEY] = issue_token(s, person_id)


def forget(engine) -> None:
    """At sign-out: revoke the token server side (the cookie is cleared on the sign-in page)."""
    token = st.session_state.get(TOKEN_KEY) or _cookie_token()
    with _ui.session(engine) as s:
        revoke_token(s, token)


def write_cookie() -> None:
    """Keep the browser's cookie equal to this session's token (or clear it when there is none)."""
    token = st.session_state.get(TOKEN_KEY)
    if token == _cookie_token():  # nothing to change (also: no token and no cookie)
        return
    value = json.dumps(token or "")
    age = SESSION_HOURS * 3600 if token else 0
    # Our own fixed script; the value is a token we made (URL-safe characters), JSON-quoted.
    st.html(
        f"<script>document.cookie = '{COOKIE}=' + {value} + '; path=/; max-age={age}; SameSite=Strict';</script>",
        unsafe_allow_javascript=True,
    )
