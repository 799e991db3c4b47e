"""Session tokens: a reload of the app keeps a person signed in until the token expires or is revoked.

The browser holds a random 256-bit token; the database holds only its SHA-256, the person, the
expiry and the revocation. Nothing in the token can be forged or extended by the browser.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from db.models import Annotator, SessionToken, utcnow

SESSION_HOURS = 12


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # SQLite gives back naive UTC


def issue_token(
    session: Session, annotator_id: int, *, hours: float = SESSION_HOURS, now: datetime | None = None
) -> str:
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        SessionToken(
            token_hash=_hash(token),
            annotator_id=annotator_id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    session.flush()
    return token


def person_for_token(session: Session, token: str | None, *, now: datetime | None = None) -> Annotator | None:
    """The active person a valid token belongs to; None if unknown, expired, revoked or deactivated."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    row = session.exec(select(SessionToken).where(SessionToken.token_hash == _hash(token))).first()
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= (now or utcnow()):
        return None
    person = session.get(Annotator, row.annotator_id)
    return person if person is not None and person.active else None


def revoke_token(session: Session, token: str | None) -> None:
    if not token:
        return
    row = session.exec(select(SessionToken).where(SessionToken.token_hash == _hash(token))).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()


def revoke_all(session: Session, annotator_id: int) -> int:
    """Revoke every open session of a person (deactivation, password change); how many were open."""
    rows = session.exec(
        select(SessionToken).where(SessionToken.annotator_id == annotator_id, SessionToken.revoked_at == None)  # noqa: E711
    ).all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        session.add(row)
    session.flush()
    return len(rows)
