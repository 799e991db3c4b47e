"""Assignment of responses to annotators: n per item (a share to more), balanced load, random order each."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, col, func, select

from db.models import Annotator, Assignment, utcnow
from pipeline.annotation._studies import get_study, responses_with_trace, study_response_ids
from pipeline.errors import DxTraceError, InputError, Problem


@dataclass
class AssignmentReport:
    study_id: int
    n_items: int  # responses asked for
    n_new: int  # assignments written now
    n_kept: int  # (response, annotator) pairs that were already assigned
    n_extra_items: int  # items that get extra_per_item annotators
    added: dict[str, int] = field(default_factory=dict)  # username -> new assignments
    load: dict[str, int] = field(default_factory=dict)  # username -> all assignments in the study
    short: list[int] = field(default_factory=list)  # items that could not reach their target
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> responses the default choice left out

    def summary(self) -> str:
        parts = [f"{self.n_items} item(s): {self.n_new} assignment(s) added, {self.n_kept} already there"]
        parts.extend(f"{n} left out: {reason}" for reason, n in self.left_out.items() if n)
        if self.n_extra_items:
            parts.append(f"{self.n_extra_items} item(s) to more annotators")
        if self.short:
            parts.append(f"{len(self.short)} item(s) below target (not enough annotators)")
        return "; ".join(parts)


NO_TRACE = "answer only, no reasoning trace to label"


@dataclass(frozen=True)
class Selection:
    """The responses the default choice offers, and how many it left out for each reason."""

    response_ids: list[int]
    left_out: dict[str, int] = field(default_factory=dict)

    def note(self) -> str:
        kept = f"{len(self.response_ids)} incorrect response(s) selected"
        dropped = [f"{n} left out: {reason}" for reason, n in self.left_out.items() if n]
        return "; ".join([kept, *dropped])


def incorrect_ids(session: Session, study_id: int) -> list[int]:
    """Every response of the study graded wrong (the grade that counts), with or without a trace."""
    try:
        from pipeline.accuracy import incorrect_response_ids
    except ImportError:  # pragma: no cover - only before the grading module is installed
        raise DxTraceError("grading is not available: pass the response ids to assign explicitly") from None
    return list(incorrect_response_ids(session, study_id))


def default_selection(session: Session, study_id: int, *, include_answer_only: bool = False) -> Selection:
    """Incorrect responses with a reasoning trace (the error modes judge reasoning); answer-only
    responses are left out and counted unless include_answer_only."""
    wrong = incorrect_ids(session, study_id)
    if include_answer_only:
        return Selection(wrong)
    traced = set(responses_with_trace(session, study_id))
    kept = [r for r in wrong if r in traced]
    return Selection(kept, {NO_TRACE: len(wrong) - len(kept)})


def default_response_ids(session: Session, study_id: int) -> list[int]:
    """What assignment offers by default: the study's incorrect responses that have a trace."""
    return default_selection(session, study_id).response_ids


def _check(
    session: Session,
    study_id: int,
    response_ids: list[int],
    annotator_ids: list[int],
    per_item: int,
    extra_share: float,
    extra_per_item: int,
) -> list[Annotator]:
    problems: list[Problem] = []

    def bad(fld: str, msg: str) -> None:
        problems.append(Problem("assignment", None, fld, msg))

    if not response_ids:
        bad("responses", "no responses to assign (is the study graded? are there incorrect responses?)")
    if not annotator_ids:
        bad("annotators", "choose at least one annotator")
    people = {a.id: a for a in session.exec(select(Annotator).where(col(Annotator.id).in_(annotator_ids)))}
    missing = [i for i in annotator_ids if i not in people]
    if missing:
        bad("annotators", f"no account with id {', '.join(map(str, missing))}")
    inactive = sorted(a.username for a in people.values() if not a.active)
    if inactive:
        bad("annotators", f"deactivated account(s): {', '.join(inactive)}")
    n = len(set(annotator_ids))
    if per_item < 1:
        bad("per_item", "must be at least 1")
    elif annotator_ids and per_item > n:
        bad("per_item", f"{per_item} annotators per item, but only {n} annotator(s) chosen")
    if not 0.0 <= extra_share <= 1.0:
        bad("extra_share", "must be between 0 and 1")
    elif extra_share > 0:
        if extra_per_item <= per_item:
            bad("extra_per_item", f"must be more than per_item ({per_item})")
        elif annotator_ids and extra_per_item > n:
            bad("extra_per_item", f"{extra_per_item} annotators per item, but only {n} annotator(s) chosen")
    if response_ids:
        known = study_response_ids(session, study_id, response_ids)
        foreign = sorted(set(response_ids) - known)
        if foreign:
            shown = ", ".join(map(str, foreign[:10])) + (" ..." if len(foreign) > 10 else "")
            bad("responses", f"{len(foreign)} id(s) are not responses of this study: {shown}")
    if problems:
        raise InputError(problems)
    return [people[i] for i in dict.fromkeys(annotator_ids)]


def assign(
    session: Session,
    study_id: int,
    *,
    response_ids: list[int] | None = None,
    annotator_ids: list[int],
    per_item: int = 2,
    extra_share: float = 0.0,
    extra_per_item: int = 3,
    seed: int = 0,
    include_answer_only: bool = False,
) -> AssignmentReport:
    """Give each response to per_item annotators (a random extra_share of them to extra_per_item).

    Adds to what is there: pairs already assigned are kept, and the current load of
    each annotator in the study counts, so assigning again tops up evenly. Each
    annotator's new items are appended to their queue in their own random order.
    Without response_ids: the incorrect responses with a trace (default_selection).
    """
    study = get_study(session, study_id)
    left_out: dict[str, int] = {}
    if response_ids is None:
        chosen = default_selection(session, study.id, include_answer_only=include_answer_only)
        response_ids, left_out = chosen.response_ids, chosen.left_out
    items = sorted(set(response_ids))
    people = _check(session, study.id, items, annotator_ids, per_item, extra_share, extra_per_item)
    rng = random.Random(seed)

    existing = session.exec(
        select(Assignment.response_id, Assignment.annotator_id).where(Assignment.study_id == study.id)
    ).all()
    holders: dict[int, set[int]] = defaultdict(set)
    for rid, aid in existing:
        holders[rid].add(aid)
    load = Counter(aid for _rid, aid in existing)
    last_position = dict(
        session.exec(
            select(Assignment.annotator_id, func.max(Assignment.position))
            .where(Assignment.study_id == study.id)
            .group_by(Assignment.annotator_id)
        ).all()
    )

    n_extra = round(extra_share * len(items)) if extra_share > 0 else 0
    extra = set(rng.sample(items, n_extra)) if n_extra else set()
    order = items[:]
    rng.shuffle(order)  # so ties in load do not always favour the same annotators for low ids
    chosen_ids = [p.id for p in people]
    new_pairs: dict[int, list[int]] = defaultdict(list)  # annotator -> new response ids
    n_kept = 0
    short: list[int] = []
    for rid in order:
        target = extra_per_item if rid in extra else per_item
        have = holders[rid] & set(chosen_ids)
        n_kept += len(have)
        need = target - len(have)
        if need <= 0:
            continue
        candidates = [a for a in chosen_ids if a not in holders[rid]]
        rng.shuffle(candidates)
        candidates.sort(key=lambda a: load[a])  # stable: random among equally loaded
        picked = candidates[:need]
        if len(picked) < need:
            short.append(rid)
        for aid in picked:
            holders[rid].add(aid)
            load[aid] += 1
            new_pairs[aid].append(rid)

    now = utcnow()
    n_new = 0
    for aid, rids in new_pairs.items():
        rng.shuffle(rids)
        start = (last_position.get(aid) or 0) + 1 if aid in last_position else 0
        append_to_queue(session, study.id, aid, rids, start, now)
        n_new += len(rids)
    session.flush()
    names = {p.id: p.username for p in people}
    return AssignmentReport(
        study_id=study.id,
        n_items=len(items),
        n_new=n_new,
        n_kept=n_kept,
        n_extra_items=len(extra),
        added={names[a]: len(new_pairs.get(a, [])) for a in chosen_ids},
        load={names[a]: load[a] for a in chosen_ids},
        short=sorted(short),
        left_out=left_out,
    )


def append_to_queue(session, study_id: int, annotator_id: int, rids: list[int], start: int, now, statuses=None) -> None:
    """Add these responses to an annotator's queue in this order from position `start` (statuses: per response,
    default pending)."""
    for offset, rid in enumerate(rids):
        extra = {"status": statuses[rid]} if statuses is not None else {}
        session.add(Assignment(study_id=study_id, response_id=rid, annotator_id=annotator_id,
                               position=start + offset, created_at=now, updated_at=now, **extra))  # fmt: skip
