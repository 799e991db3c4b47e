"""Changing who labels what mid-study: unassign, move to another annotator, give a newcomer a share.

Every change is planned first (a Plan: the items, the load of each annotator before and after, what
was refused and why), shown to the lead, and applied in one transaction only if the study still gives
the same plan. An item an annotator has already labelled is never dropped silently: it is refused,
or, with keep_annotations, moved while its labels stay in the database under their author's name.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlmodel import Session, select

from db.models import Annotation, Annotator, Assignment, Case, Model, Response, utcnow
from pipeline.annotation._assign import append_to_queue
from pipeline.annotation._labels import STATUS_DONE, STATUS_FLAGGED, STATUS_PENDING, STATUS_SKIPPED
from pipeline.annotation._studies import get_study
from pipeline.errors import DxTraceError, InputError, Problem

WHERE = "reassignment"
KEEP_HINT = "choose 'keep annotations' to move it anyway: the labels stay in the study under their author's name"


@dataclass(frozen=True)
class Holding:
    """One assignment of the study, with what the plan needs to know about it."""

    response_id: int
    annotator_id: int
    username: str
    active: bool
    case_key: str
    model: str
    status: str
    annotated: bool  # this annotator has saved labels on this response
    flagged: bool


@dataclass(frozen=True)
class Change:
    """One item leaving `source` (None: a new assignment) for `target` (None: unassigned)."""

    response_id: int
    case_key: str
    model: str
    source: str | None
    target: str | None
    annotated: bool = False  # the source's labels, kept under the source's name


@dataclass(frozen=True)
class Refusal:
    response_id: int
    case_key: str
    model: str
    annotator: str
    reason: str


@dataclass(frozen=True)
class Load:
    assigned: int = 0
    labelled: int = 0

    @property
    def to_do(self) -> int:
        return self.assigned - self.labelled


@dataclass(frozen=True)
class Plan:
    """What a reassignment or a newcomer's share would change; `fingerprint` ties an apply to its preview."""

    study_id: int
    action: str
    changes: tuple[Change, ...]
    refused: tuple[Refusal, ...]
    before: dict[str, Load]
    after: dict[str, Load]

    @property
    def annotations_kept(self) -> int:
        return sum(c.annotated for c in self.changes)

    @property
    def fingerprint(self) -> str:
        payload = [
            self.action,
            [(c.response_id, c.source, c.target, c.annotated) for c in self.changes],
            [(r.response_id, r.annotator, r.reason) for r in self.refused],
        ]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]

    def summary(self) -> str:
        moved = sum(1 for c in self.changes if c.source and c.target)
        parts = []
        if moved:
            parts.append(f"{moved} item(s) moved")
        if n := sum(1 for c in self.changes if c.source and not c.target):
            parts.append(f"{n} item(s) unassigned")
        if n := sum(1 for c in self.changes if c.target and not c.source):
            parts.append(f"{n} item(s) added")
        if not parts:
            parts.append("nothing to change")
        if self.annotations_kept:
            parts.append(f"{self.annotations_kept} annotation(s) kept under their author's name")
        if self.refused:
            parts.append(f"{len(self.refused)} refused")
        return "; ".join(parts)

    def load_rows(self) -> list[dict]:
        """Per annotator: items assigned and still to do, before and after."""
        names = sorted(set(self.before) | set(self.after))
        return [
            {
                "annotator": n,
                "assigned before": self.before.get(n, Load()).assigned,
                "assigned after": self.after.get(n, Load()).assigned,
                "to do before": self.before.get(n, Load()).to_do,
                "to do after": self.after.get(n, Load()).to_do,
            }
            for n in names
            if self.before.get(n) != self.after.get(n) or self.before.get(n, Load()).assigned
        ]

    def item_rows(self) -> list[dict]:
        rows = [
            {
                "response": c.response_id,
                "case": c.case_key,
                "model": c.model,
                "from": c.source or "",
                "to": c.target or "(unassigned)",
                "labels": "kept, still " + c.source + "'s" if c.annotated and c.source else "",
            }
            for c in self.changes
        ]
        return rows

    def refusal_rows(self) -> list[dict]:
        return [
            {"response": r.response_id, "case": r.case_key, "model": r.model, "annotator": r.annotator, "why": r.reason}
            for r in self.refused
        ]


# ---------------------------------------------------------------- what the study holds


def holdings(session: Session, study_id: int) -> list[Holding]:
    """Every assignment of the study with its annotator, case, model and whether it carries labels."""
    labelled = {
        (rid, aid): flagged
        for rid, aid, flagged in session.exec(
            select(Annotation.response_id, Annotation.annotator_id, Annotation.flagged).where(
                Annotation.study_id == study_id
            )
        )
    }
    rows = session.exec(
        select(
            Assignment.response_id,
            Assignment.annotator_id,
            Annotator.username,
            Annotator.active,
            Case.case_key,
            Model.name,
            Assignment.status,
        )
        .join(Annotator, Annotator.id == Assignment.annotator_id)
        .join(Response, Response.id == Assignment.response_id)
        .join(Case, Case.id == Response.case_id)
        .join(Model, Model.id == Response.model_id)
        .where(Assignment.study_id == study_id)
        .order_by(Assignment.response_id, Annotator.username)
    ).all()
    return [
        Holding(
            rid, aid, name, bool(active), key, model, status, (rid, aid) in labelled, bool(labelled.get((rid, aid)))
        )
        for rid, aid, name, active, key, model, status in rows
    ]


def loads(held: list[Holding]) -> dict[str, Load]:
    assigned = Counter(h.username for h in held)
    labelled = Counter(h.username for h in held if h.annotated)
    return {n: Load(assigned[n], labelled[n]) for n in assigned}


def _after(before: dict[str, Load], changes: list[Change], labelled_by: set[tuple[int, str]]) -> dict[str, Load]:
    out = dict(before)
    for c in changes:
        if c.source:
            old = out[c.source]
            out[c.source] = Load(old.assigned - 1, old.labelled - (1 if c.annotated else 0))
        if c.target:
            old = out.get(c.target, Load())
            out[c.target] = Load(old.assigned + 1, old.labelled + ((c.response_id, c.target) in labelled_by))
    return out


def _labelled_by(session: Session, study_id: int) -> set[tuple[int, str]]:
    """(response, username) of every annotation, assigned or not: a target may hold old labels of its own."""
    return set(
        session.exec(
            select(Annotation.response_id, Annotator.username)
            .join(Annotator, Annotator.id == Annotation.annotator_id)
            .where(Annotation.study_id == study_id)
        ).all()
    )


def _account(session: Session, username: str, fld: str, *, active: bool = True) -> Annotator:
    person = session.exec(select(Annotator).where(Annotator.username == (username or "").strip())).first()
    if person is None:
        raise InputError(Problem(WHERE, None, fld, f"no account {username!r}"))
    if active and not person.active:
        raise InputError(Problem(WHERE, None, fld, f"{person.username} is deactivated: reactivate the account first"))
    return person


# ---------------------------------------------------------------- unassign and move


@dataclass(frozen=True)
class ItemPick:
    """Which assigned items: those of these annotators (anyone's when empty), narrowed by response ids,
    case keys, model names and picked table rows (each filter applies when given)."""

    annotators: tuple[str, ...] = ()
    response_ids: tuple[int, ...] = ()
    case_keys: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    pairs: tuple[tuple[int, str], ...] = ()  # exact (response id, username) rows picked in a table

    def is_empty(self) -> bool:
        return not (self.annotators or self.response_ids or self.case_keys or self.models or self.pairs)

    def matches(self, h: Holding) -> bool:
        return (
            (not self.pairs or (h.response_id, h.username) in self.pairs)
            and (not self.annotators or h.username in self.annotators)
            and (not self.response_ids or h.response_id in self.response_ids)
            and (not self.case_keys or h.case_key in self.case_keys)
            and (not self.models or h.model in self.models)
        )


@dataclass(frozen=True)
class Reassign:
    """Move the picked items to `to`, or unassign them when `to` is None."""

    pick: ItemPick
    to: str | None = None
    keep_annotations: bool = False
    seed: int = 0


def _check_pick(session: Session, pick: ItemPick, held: list[Holding]) -> None:
    problems = []
    if pick.is_empty():
        problems.append(Problem(WHERE, None, "items", "choose items: by annotator, case, model or response id"))
    known = {h.username for h in held}
    for name in pick.annotators:
        if name not in known:
            exists = session.exec(select(Annotator.id).where(Annotator.username == name)).first()
            why = "has no items in this study" if exists else "no such account"
            problems.append(Problem(WHERE, None, "from", f"{name!r}: {why}"))
    for fld, wanted, have in (
        ("cases", pick.case_keys, {h.case_key for h in held}),
        ("models", pick.models, {h.model for h in held}),
        ("responses", pick.response_ids, {h.response_id for h in held}),
    ):
        missing = [str(v) for v in wanted if v not in have]
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            problems.append(Problem(WHERE, None, fld, f"not assigned to anyone in this study: {shown}"))
    if problems:
        raise InputError(problems)


def preview_reassign(session: Session, study_id: int, request: Reassign) -> Plan:
    """What moving (or unassigning) the picked items would change; writes nothing."""
    study = get_study(session, study_id)
    held = holdings(session, study.id)
    _check_pick(session, request.pick, held)
    target = _account(session, request.to, "to") if request.to else None
    if target is not None and request.pick.annotators == (target.username,):
        raise InputError(Problem(WHERE, None, "to", f"the items are {target.username}'s already: choose someone else"))
    picked = [h for h in held if request.pick.matches(h)]
    if not picked:
        raise InputError(Problem(WHERE, None, "items", "no assigned item matches this choice"))
    holders: dict[int, set[str]] = defaultdict(set)
    for h in held:
        holders[h.response_id].add(h.username)
    changes: list[Change] = []
    refused: list[Refusal] = []
    for h in picked:
        if target is not None and h.username == target.username:
            continue  # already where it is meant to go
        reason = None
        if target is not None and target.username in holders[h.response_id]:
            reason = f"{target.username} has this item already"
        elif h.annotated and not request.keep_annotations:
            reason = f"{h.username} has saved labels on it; {KEEP_HINT}"
        if reason:
            refused.append(Refusal(h.response_id, h.case_key, h.model, h.username, reason))
            continue
        target_name = target.username if target else None
        changes.append(Change(h.response_id, h.case_key, h.model, h.username, target_name, h.annotated))
        if target_name:
            holders[h.response_id].add(target_name)
    before = loads(held)
    action = "move" if target else "unassign"
    after = _after(before, changes, _labelled_by(session, study.id))
    return Plan(study.id, action, tuple(changes), tuple(refused), before, after)


def apply_reassign(session: Session, study_id: int, request: Reassign, *, expected: str | None = None) -> Plan:
    """Apply what preview_reassign shows, in the caller's transaction. With `expected` (the preview's
    fingerprint) it refuses when the study changed since the preview (e.g. an annotator saved labels)."""
    return _apply(session, study_id, lambda: preview_reassign(session, study_id, request), expected, request.seed)


# ---------------------------------------------------------------- a newcomer mid-study

NEWCOMER_MODES: dict[str, Callable[[NewcomerContext], list[Change]]] = {}
NEWCOMER_TITLES: dict[str, str] = {}


def newcomer_mode(name: str, title: str):
    """Register how a newcomer's items are chosen (a plug-in: (NewcomerContext) -> changes)."""

    def register(fn):
        NEWCOMER_MODES[name] = fn
        NEWCOMER_TITLES[name] = title
        return fn

    return register


@dataclass(frozen=True)
class Newcomer:
    """Give `username` items mid-study. mode "take": a share of the others' items still to do (an even
    share unless `count`); mode "extra": a second (third...) rating on `count` items or a `share` of the
    study's items, for agreement, leaving everyone else's queue as it is."""

    username: str
    mode: str = "take"
    count: int | None = None
    share: float | None = None
    seed: int = 0


@dataclass
class NewcomerContext:
    request: Newcomer
    held: list[Holding]
    rng: random.Random
    newcomer: str
    mine: set[int] = field(default_factory=set)


@newcomer_mode("take", "Take over a share of the others' items still to do (their queues get shorter)")
def _take(ctx: NewcomerContext) -> list[Change]:
    spare: dict[str, list[Holding]] = defaultdict(list)  # donor -> items not labelled yet
    for h in ctx.held:
        theirs = h.username == ctx.newcomer or h.response_id in ctx.mine
        if not theirs and not h.annotated and h.status in (STATUS_PENDING, STATUS_SKIPPED):
            spare[h.username].append(h)
    for items in spare.values():
        ctx.rng.shuffle(items)
    to_do = Counter({n: len(v) for n, v in spare.items()})
    mine = Counter(h.username for h in ctx.held if h.username == ctx.newcomer and not h.annotated)[ctx.newcomer]
    taken: set[int] = set(ctx.mine)
    changes: list[Change] = []
    while True:
        if ctx.request.count is not None and len(changes) >= ctx.request.count:
            break
        donors = [n for n in sorted(spare) if any(h.response_id not in taken for h in spare[n])]
        if not donors:
            break
        donor = max(donors, key=lambda n: (to_do[n], n))
        if ctx.request.count is None and to_do[donor] <= mine + len(changes) + 1:
            break  # even: no one has more than one item more to do than the newcomer
        h = next(h for h in spare[donor] if h.response_id not in taken)
        spare[donor].remove(h)
        to_do[donor] -= 1
        taken.add(h.response_id)
        changes.append(Change(h.response_id, h.case_key, h.model, h.username, ctx.newcomer))
    return changes


@newcomer_mode("extra", "Add a rating on items others hold (for agreement; their queues stay as they are)")
def _extra(ctx: NewcomerContext) -> list[Change]:
    items: dict[int, list[Holding]] = defaultdict(list)
    for h in ctx.held:
        items[h.response_id].append(h)
    candidates = [rid for rid in items if rid not in ctx.mine]
    n = ctx.request.count if ctx.request.count is not None else round((ctx.request.share or 0) * len(items))
    ctx.rng.shuffle(candidates)
    # Fewest raters first, then items someone has labelled already (agreement can be measured sooner).
    candidates.sort(key=lambda rid: (len(items[rid]), not any(h.annotated for h in items[rid])))
    first = {rid: items[rid][0] for rid in candidates}
    return [Change(rid, first[rid].case_key, first[rid].model, None, ctx.newcomer) for rid in candidates[:n]]


def _check_newcomer(request: Newcomer) -> None:
    problems = []
    if request.mode not in NEWCOMER_MODES:
        problems.append(Problem(WHERE, None, "mode", f"{request.mode!r}: one of {', '.join(NEWCOMER_MODES)}"))
    if request.count is not None and request.count < 1:
        problems.append(Problem(WHERE, None, "count", "must be at least 1"))
    if request.share is not None and not 0 < request.share <= 1:
        problems.append(Problem(WHERE, None, "share", "must be more than 0 and at most 1"))
    if request.count is not None and request.share is not None:
        problems.append(Problem(WHERE, None, "share", "give a count or a share, not both"))
    if request.mode == "extra" and request.count is None and request.share is None:
        problems.append(Problem(WHERE, None, "count", "say how many items (a count or a share) get an extra rating"))
    if request.mode == "take" and request.share is not None:
        problems.append(Problem(WHERE, None, "share", "taking over items uses a count (or an even share when empty)"))
    if problems:
        raise InputError(problems)


def preview_newcomer(session: Session, study_id: int, request: Newcomer) -> Plan:
    """Which items the newcomer would get and how the others' queues change; writes nothing."""
    study = get_study(session, study_id)
    _check_newcomer(request)
    person = _account(session, request.username, "annotator")
    held = holdings(session, study.id)
    if not held:
        raise InputError(Problem(WHERE, None, "items", "nothing is assigned in this study yet: use Assign first"))
    mine = {h.response_id for h in held if h.username == person.username}
    ctx = NewcomerContext(request, held, random.Random(request.seed), person.username, mine)
    changes = NEWCOMER_MODES[request.mode](ctx)
    before = loads(held)
    after = _after(before, changes, _labelled_by(session, study.id))
    return Plan(study.id, f"newcomer:{request.mode}", tuple(changes), (), before, after)


def apply_newcomer(session: Session, study_id: int, request: Newcomer, *, expected: str | None = None) -> Plan:
    return _apply(session, study_id, lambda: preview_newcomer(session, study_id, request), expected, request.seed)


# ---------------------------------------------------------------- applying a plan


def _lock(session: Session, study_id: int) -> None:
    """A write on the study's assignment rows before the plan is read again: PostgreSQL waits for (and then
    sees) an annotator's save in progress, which locks its row the same way; SQLite takes its write lock."""
    session.execute(update(Assignment).where(Assignment.study_id == study_id).values(updated_at=Assignment.updated_at))


def _apply(session: Session, study_id: int, make_plan: Callable[[], Plan], expected: str | None, seed: int) -> Plan:
    _lock(session, study_id)
    plan = make_plan()
    if expected is not None and plan.fingerprint != expected:
        raise DxTraceError(
            "the study's assignments or labels changed since the preview; nothing was changed: "
            "look at the new preview and apply again"
        )
    if not plan.changes:
        reasons = sorted({r.reason for r in plan.refused})
        raise DxTraceError(
            "nothing to change" + (f": {len(plan.refused)} refused ({'; '.join(reasons)})" if reasons else "")
        )
    _execute(session, plan, seed)
    return plan


def _execute(session: Session, plan: Plan, seed: int) -> None:
    ids = {
        a.username: a.id
        for a in session.exec(
            select(Annotator).where(
                Annotator.username.in_({c.source for c in plan.changes} | {c.target for c in plan.changes})
            )
        )
    }
    for c in plan.changes:
        if c.source:
            row = session.exec(
                select(Assignment).where(
                    Assignment.study_id == plan.study_id,
                    Assignment.response_id == c.response_id,
                    Assignment.annotator_id == ids[c.source],
                )
            ).one()
            session.delete(row)
    session.flush()
    rng = random.Random(seed)
    incoming: dict[str, list[int]] = defaultdict(list)
    for c in plan.changes:
        if c.target:
            incoming[c.target].append(c.response_id)
    now = utcnow()
    for name, rids in incoming.items():
        aid = ids[name]
        last = session.exec(
            select(Assignment.position)
            .where(Assignment.study_id == plan.study_id, Assignment.annotator_id == aid)
            .order_by(Assignment.position.desc())
            .limit(1)
        ).first()
        own = {
            rid: flagged
            for rid, flagged in session.exec(
                select(Annotation.response_id, Annotation.flagged).where(
                    Annotation.study_id == plan.study_id, Annotation.annotator_id == aid
                )
            )
        }
        rng.shuffle(rids)  # the newcomer's own random order, after what they have
        start = 0 if last is None else last + 1
        statuses = {r: STATUS_PENDING if r not in own else (STATUS_FLAGGED if own[r] else STATUS_DONE) for r in rids}
        append_to_queue(session, plan.study_id, aid, rids, start, now, statuses)
    session.flush()
