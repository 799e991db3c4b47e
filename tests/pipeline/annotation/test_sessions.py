"""Session tokens: valid until they expire; sign-out, deactivation and a new password revoke them."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from db.engine import session_scope
from db.models import SessionToken, utcnow
from pipeline.annotation import (
    create_annotator,
    issue_token,
    person_for_token,
    revoke_token,
    set_active,
    set_password,
)

PASSWORD = "correct horse battery"


def test_token_lifecycle(engine):
    with session_scope(engine) as s:
        ada = create_annotator(s, "ada", PASSWORD, "annotator").id
        token = issue_token(s, ada)
        short = issue_token(s, ada, hours=1)
    with session_scope(engine) as s:
        assert person_for_token(s, token).username == "ada"
        assert token not in {r.token_hash for r in s.exec(select(SessionToken))}  # only the hash is stored
        assert person_for_token(s, short, now=utcnow() + timedelta(hours=2)) is None  # expired
        for forged in ("", None, token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 500):
            assert person_for_token(s, forged) is None
        revoke_token(s, token)  # sign-out
    with session_scope(engine) as s:
        assert person_for_token(s, token) is None
        again = issue_token(s, ada)
        set_active(s, "ada", False)  # deactivation signs out everywhere
    with session_scope(engine) as s:
        assert person_for_token(s, again) is None
        set_active(s, "ada", True)
        assert person_for_token(s, again) is None  # reactivating does not bring old sessions back
        third = issue_token(s, ada)
        set_password(s, "ada", "another long passphrase")
        assert person_for_token(s, third) is None
