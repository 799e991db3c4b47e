"""Accounts: annotators and leads, passwords kept only as argon2id salted hashes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, update
from sqlmodel import Session, select

from db.models import ROLE_LEAD, ROLES, Annotator, Assignment, utcnow
from pipeline.errors import DxTraceError

MIN_PASSWORD_LENGTH = 10
# After this many wrong passwords in a row an account is locked for LOCK_MINUTES, or until a lead
# unlocks it (python -m pipeline users unlock NAME). Kept in the database: a reload or a new browser
# does not reset it.
MAX_FAILED_SIGN_INS = 5
LOCK_MINUTES = 15
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
    if not (password or "").strip():
        raise DxTraceError("password: must not be empty or only spaces")
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


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands timezone-aware columns back naive; they were stored in UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def is_locked(person: Annotator, now: datetime | None = None) -> bool:
    until = _aware(person.locked_until)
    return until is not None and until > (now or utcnow())


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return False


def _failed(session: Session, person: Annotator) -> None:
    """Count a wrong password in the database (one atomic UPDATE: parallel attempts all count)."""
    session.execute(
        update(Annotator)
        .where(Annotator.id == person.id)
        .values(failed_sign_ins=func.coalesce(Annotator.failed_sign_ins, 0) + 1)
    )
    session.refresh(person)
    if (person.failed_sign_ins or 0) >= MAX_FAILED_SIGN_INS and not is_locked(person):
        person.locked_until = utcnow() + timedelta(minutes=LOCK_MINUTES)
        session.add(person)
    session.flush()


def authenticate(session: Session, username: str, password: str) -> Annotator | None:
    """The active, unlocked account with this username and password, else None (never says which was wrong).

    Every wrong password is counted on the account; after MAX_FAILED_SIGN_INS in a row it is locked.
    """
    person = get_annotator(session, username or "") if username else None
    stored = person.password_hash if person is not None else _DUMMY_HASH
    good = _verify(stored, password)  # always verified, so a locked or unknown account takes as long
    if person is None:
        return None
    if is_locked(person):
        return None
    if not good:
        _failed(session, person)
        return None
    if not person.active:
        return None
    if person.failed_sign_ins or person.locked_until:
        person.failed_sign_ins = 0
        person.locked_until = None
        session.add(person)
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


def verify_password(session: Session, username: str, password: str) -> bool:
    """Whether this is the account's current password; counts nothing (for the demo's credentials file)."""
    person = get_annotator(session, username)
    return person is not None and _verify(person.password_hash, password)


def unlock(session: Session, username: str) -> Annotator:
    """Lift a lockout after failed sign-ins (a lead's action)."""
    person = require_annotator(session, username)
    person.failed_sign_ins = 0
    person.locked_until = None
    session.add(person)
    session.flush()
    return person


def set_can_grade(session: Session, username: str, allowed: bool) -> Annotator:
    """Allow or stop an annotator recording clinician grades (in the studies assigned to them)."""
    person = require_annotator(session, username)
    person.can_grade = allowed
    session.add(person)
    session.flush()
    return person


def may_grade(session: Session, person: Annotator, study_id: int, response_id: int | None = None) -> bool:
    """Leads grade in every study; an annotator with the grading right in a study assigned to them, and any
    annotator the response itself was assigned to (the lead's assignment is the right, for that item only)."""
    if not person.active:
        return False
    if person.role == ROLE_LEAD:
        return True
    if response_id is not None:
        mine = session.exec(
            select(Assignment.id).where(
                Assignment.study_id == study_id,
                Assignment.annotator_id == person.id,
                Assignment.response_id == response_id,
            )
        ).first()
        if mine is not None:
            return True
    if not person.can_grade:
        return False
    found = session.exec(
        select(Assignment.id).where(Assignment.study_id == study_id, Assignment.annotator_id == person.id).limit(1)
    ).first()
    return found is not None


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


# ---------------------------------------------------------------- a lead's account management in the app

WHERE = "accounts"


def temporary_password() -> str:
    """A random password to hand over once (the person should change it); never stored in clear."""
    import secrets

    return secrets.token_urlsafe(12)  # 16 characters, about 96 bits


def _field_error(fld: str, exc: DxTraceError):
    from pipeline.errors import InputError, Problem

    message = str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)
    return InputError(Problem(WHERE, None, fld, message))


def create_account(
    session: Session, username: str, role: str, *, password: str | None = None, display_name: str | None = None
) -> tuple[Annotator, str | None]:
    """A new account; without a password a temporary one is made and returned (show it once, store nothing)."""
    try:
        username = check_username(username)
    except DxTraceError as exc:
        raise _field_error("username", exc) from None
    try:
        check_role(role)
    except DxTraceError as exc:
        raise _field_error("role", exc) from None
    made = None if (password or "") else temporary_password()
    try:
        check_password(password or made, username)
    except DxTraceError as exc:
        raise _field_error("password", exc) from None
    if get_annotator(session, username) is not None:
        raise _field_error("username", DxTraceError(f"username: {username!r} is taken"))
    return create_annotator(session, username, password or made, role, display_name=display_name), made


def reset_password(session: Session, username: str, password: str | None = None) -> str | None:
    """A new password (typed by the lead, or a temporary one returned once); the person's sessions end."""
    made = None if (password or "") else temporary_password()
    person = require_annotator(session, username)
    try:
        check_password(password or made, person.username)
    except DxTraceError as exc:
        raise _field_error("password", exc) from None
    set_password(session, person.username, password or made)
    unlock(session, person.username)
    return made


def set_account_active(session: Session, actor_id: int | None, username: str, active: bool) -> Annotator:
    """Deactivate or reactivate an account; in the app a lead cannot deactivate themself nor the last active
    lead (actor_id None: the command line, which needs no sign-in and so can always undo it)."""
    person = require_annotator(session, username)
    if not active and actor_id is not None:
        if person.id == actor_id:
            raise _field_error("account", DxTraceError("account: you cannot deactivate your own account"))
        leads = [p for p in list_annotators(session, role=ROLE_LEAD, active_only=True) if p.id != person.id]
        if person.role == ROLE_LEAD and not leads:
            raise _field_error("account", DxTraceError("account: the last active lead cannot be deactivated"))
    return set_active(session, person.username, active)
