"""Accounts: annotators and leads, passwords kept only as argon2id salted hashes."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from db.models import ROLES, Annotator
from pipeline.errors import DxTraceError

MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
_hasher = PasswordHasher()  # argon2id with a random 16-byte salt per hash
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("dxtrace-no-such-user")


def check_username(username: str) -> str:
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise DxTraceError(
            f"username {username!r}: use 2-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return username


def check_password(password: str, username: str = "") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise DxTraceError(f"password: must have at least {MIN_PASSWORD_LENGTH} characters")
    if username and password.strip().casefold() == username.casefold():
        raise DxTraceError("password: must not be the username")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise DxTraceError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def get_annotator(session: Session, username: str) -> Annotator | None:
    return session.exec(select(Annotator).where(Annotator.username == username.strip())).first()


def require_annotator(session: Session, username: str) -> Annotator:
    found = get_annotator(session, username)
    if found is None:
        raise DxTraceError(f"no account {username!r}; list them with: python -m pipeline users list")
    return found


def create_annotator(
    session: Session, username: str, password: str, role: str = "annotator", *, display_name: str | None = None
) -> Annotator:
    """A new account; the password is stored only as a salted argon2 hash."""
    username = check_username(username)
    check_role(role)
    check_password(password, username)
    if get_annotator(session, username) is not None:
        raise DxTraceError(f"account {username!r} already exists")
    person = Annotator(
        username=username,
        display_name=(display_name or "").strip() or None,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(person)
    session.flush()
    return person


def authenticate(session: Session, username: str, password: str) -> Annotator | None:
    """The active account with this username and password, else None (never says which was wrong)."""
    person = get_annotator(session, username or "") if username else None
    stored = person.password_hash if person is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if person is None or not person.active:
        return None
    if _hasher.check_needs_rehash(stored):  # parameters got stronger since this hash was made
        person.password_hash = hash_password(password)
        session.add(person)
        session.flush()
    return person


def set_password(session: Session, username: str, password: str) -> Annotator:
    person = require_annotator(session, username)
    check_password(password, person.username)
    person.password_hash = hash_password(password)
    session.add(person)
    session.flush()
    from pipeline.annotation._sessions import revoke_all

    revoke_all(session, person.id)  # a new password signs the person out everywhere
    return person


def set_active(session: Session, username: str, active: bool) -> Annotator:
    from pipeline.annotation._sessions import revoke_all

    person = require_annotator(session, username)
    person.active = active
    session.add(person)
    session.flush()
    if not active:  # a deactivated account is signed out everywhere
        revoke_all(session, person.id)
    return person


def set_role(session: Session, username: str, role: str) -> Annotator:
    person = require_annotator(session, username)
    person.role = check_role(role)
    session.add(person)
    session.flush()
    return person


def list_annotators(session: Session, *, role: str | None = None, active_only: bool = False) -> list[Annotator]:
    query = select(Annotator).order_by(Annotator.username)
    if role:
        query = query.where(Annotator.role == role)
    if active_only:
        query = query.where(Annotator.active == True)  # noqa: E712 (SQL expression)
    return list(session.exec(query))
