"""Subcommand: users (add, list, passwd, deactivate, activate, role, unlock, grading) for annotators and leads."""

from __future__ import annotations

import argparse
import getpass
import sys

from db.engine import session_scope
from pipeline.annotation import (
    MIN_PASSWORD_LENGTH,
    check_password,
    check_username,
    create_account,
    get_annotator,
    is_locked,
    list_annotators,
    reset_password,
    set_account_active,
    set_can_grade,
    set_role,
    unlock,
)
from pipeline.cli import command
from pipeline.cli._common import console, open_db, print_table
from pipeline.errors import DxTraceError


def _arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create an account (asks for the password twice)")
    add.add_argument("username", help="the sign-in name")
    add.add_argument("--role", choices=["annotator", "lead"], default="annotator", help="what the account may do")
    add.add_argument("--name", help="display name, e.g. 'Dr. A. Meyer'")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument(
        "--temporary", action="store_true", help="make a temporary password and print it once (to hand over)"
    )
    ls = sub.add_parser("list", help="list accounts")
    ls.add_argument("--role", choices=["annotator", "lead"], help="only accounts with this role (default: all)")
    pw = sub.add_parser("passwd", help="set a new password")
    pw.add_argument("username", help="the account's sign-in name")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pw.add_argument(
        "--temporary", action="store_true", help="make a temporary password and print it once (to hand over)"
    )
    for name, help_ in (
        ("deactivate", "stop an account from signing in (its labels stay)"),
        ("activate", "allow it again"),
    ):
        q = sub.add_parser(name, help=help_)
        q.add_argument("username", help="the account's sign-in name")
    role = sub.add_parser("role", help="change an account's role")
    role.add_argument("username", help="the account's sign-in name")
    role.add_argument("role", choices=["annotator", "lead"], help="the new role")
    q = sub.add_parser("unlock", help="lift the lockout after too many failed sign-ins")
    q.add_argument("username", help="the account's sign-in name")
    grading = sub.add_parser("grading", help="allow (on) or stop (off) an annotator recording clinician grades")
    grading.add_argument("username", help="the account's sign-in name")
    grading.add_argument("allowed", choices=["on", "off"], help="on: may record clinician grades; off: may not")


def read_password(username: str, from_stdin: bool) -> str:
    """A new password: one line of standard input, or typed twice without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        if not sys.stdin.isatty():
            raise DxTraceError("no terminal to ask for a password: pass --password-stdin and pipe it in")
        password = getpass.getpass(f"password for {username} (at least {MIN_PASSWORD_LENGTH} characters): ")
        if getpass.getpass("again: ") != password:
            raise DxTraceError("the two passwords differ; nothing was changed")
    check_password(password, username)
    return password


@command("users", help="Manage the accounts of annotators and leads.", arguments=_arguments, order=40)
def users(args: argparse.Namespace) -> int:
    if args.action in ("add", "passwd"):
        username = check_username(args.username)
        engine = open_db(args)
        with session_scope(engine) as s:  # fail before asking for a password
            exists = get_annotator(s, username) is not None
        if args.action == "add" and exists:
            raise DxTraceError(f"account {username!r} already exists")
        if args.action == "passwd" and not exists:
            raise DxTraceError(f"no account {username!r}; list them with: python -m pipeline users list")
        if args.temporary and args.password_stdin:
            raise DxTraceError("--temporary makes the password: no --password-stdin")
        password = None if args.temporary else read_password(username, args.password_stdin)
        with session_scope(engine) as s:  # the same functions as the app's Accounts page
            if args.action == "add":
                person, temporary = create_account(s, username, args.role, password=password, display_name=args.name)
                console.print(f"added {person.role} {person.username}")
            else:
                temporary = reset_password(s, username, password)
                console.print(f"password changed for {username}; their open sessions are signed out")
        if temporary:  # shown once, to the lead's terminal only
            console.print(f"temporary password (shown once): {temporary}")
        return 0
    engine = open_db(args)
    with session_scope(engine) as s:
        if args.action == "list":
            people = list_annotators(s, role=args.role)
            if not people:
                console.print("no accounts yet; add one with: python -m pipeline users add NAME --role lead")
                return 0
            rows = [
                [
                    p.username,
                    p.display_name or "",
                    p.role,
                    "yes" if p.active else "no",
                    "yes" if p.role == "lead" or p.can_grade else "no",
                    "locked" if is_locked(p) else "",
                    f"{p.created_at:%Y-%m-%d}",
                ]
                for p in people
            ]
            print_table("Accounts", ["username", "name", "role", "active", "grading", "sign-in", "created"], rows)
        elif args.action in ("deactivate", "activate"):
            set_account_active(s, None, args.username, args.action == "activate")
            console.print(f"{args.username}: {args.action}d")
        elif args.action == "role":
            set_role(s, args.username, args.role)
            console.print(f"{args.username}: now {args.role}")
        elif args.action == "unlock":
            unlock(s, args.username)
            console.print(f"{args.username}: unlocked")
        elif args.action == "grading":
            set_can_grade(s, args.username, args.allowed == "on")
            console.print(f"{args.username}: grading {args.allowed} (in the studies assigned to them)")
    return 0
