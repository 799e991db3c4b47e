"""Red flags of a case extracted by a model of the study (an OpenAI-compatible server), as an alternative
to the red-flag list. The model must quote the vignette; a flag whose quote is not an exact substring of
the vignette is rejected and kept as rejected, so the record shows what the model said."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlmodel import Session, select

from db.models import Case, CaseRedFlags, Model, Response, Run
from pipeline.cluster import text_hash
from pipeline.errors import DxTraceError

PROMPT = """You are a clinician. Read the case and list its red flags: findings that signal a dangerous or
time-critical condition. Copy each finding's words exactly from the case.
Reply with JSON only: a list of objects {{"name": "<short name of the red flag>", "quote": "<exact words from the case>"}}.
Reply [] if there is none.

Case:
{vignette}"""
MAX_FLAGS = 20
_ARRAY = re.compile(r"\[.*\]", re.S)


@dataclass(frozen=True)
class Extraction:
    flags: list[dict]  # [{name, quote}], each quote an exact substring of the vignette
    rejected: list[dict]  # [{item, reason}]


def parse_extraction(reply: str, vignette: str) -> Extraction:
    """The model's reply, checked: a JSON list of {name, quote}; nothing unverified passes."""
    found = _ARRAY.search(reply or "")
    if not found:
        return Extraction([], [{"item": (reply or "")[:500], "reason": "no JSON list in the reply"}])
    try:
        items = json.loads(found.group(0))
    except json.JSONDecodeError as exc:
        return Extraction([], [{"item": found.group(0)[:500], "reason": f"not valid JSON: {exc.msg}"}])
    if not isinstance(items, list):
        return Extraction([], [{"item": str(items)[:500], "reason": "not a list"}])
    flags, rejected, seen = [], [], set()
    for item in items[:MAX_FLAGS]:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("quote"), str)
            or not isinstance(item.get("name"), str)
        ):
            rejected.append({"item": str(item)[:300], "reason": "needs a name and a quote"})
            continue
        q, name = item["quote"].strip(), " ".join(item["name"].split())
        if not q or not name:
            rejected.append({"item": str(item)[:300], "reason": "empty name or quote"})
        elif q not in vignette:
            rejected.append({"item": str(item)[:300], "reason": "the quote is not in the case"})
        elif q not in seen:
            seen.add(q)
            flags.append({"name": name[:120], "quote": q})
    return Extraction(flags, rejected)


def _backend_for(model: Model):
    from pipeline.generate._backend import BackendConfig, get_backend

    if model.backend != "openai":
        raise DxTraceError(
            f"model {model.name!r} uses backend {model.backend!r}; extraction needs an OpenAI-compatible one"
        )
    params = model.params or {}
    config = BackendConfig(
        name=model.name, model=model.model_id, base_url=model.base_url, api_key_env=params.get("api_key_env"),
        timeout_s=float(params.get("timeout_s", 120.0)), max_retries=int(params.get("max_retries", 2)),
    )  # fmt: skip
    return get_backend("openai")(config)


def extract_study_redflags(session: Session, study_id: int, model_name: str, *, max_tokens: int = 400) -> dict:
    """Ask the study's model for the red flags of every case of the study not yet extracted (or changed)."""
    from pipeline.generate._backend import Sampling

    model = session.exec(select(Model).where(Model.study_id == study_id, Model.name == model_name)).first()
    if model is None:
        raise DxTraceError(f"no model {model_name!r} in this study")
    extractor = f"model:{model.name}"
    cases = session.exec(
        select(Case).join(Response, Response.case_id == Case.id).join(Run, Run.id == Response.run_id)
        .where(Run.study_id == study_id).distinct()
    ).all()  # fmt: skip
    done = {r.case_id: r for r in session.exec(select(CaseRedFlags).where(CaseRedFlags.extractor == extractor)).all()}
    backend = _backend_for(model)
    counts = {"cases": len(cases), "extracted": 0, "unchanged": 0, "flags": 0, "rejected": 0}
    try:
        for case in sorted(cases, key=lambda c: c.id):
            h = text_hash(case.vignette)
            if case.id in done and done[case.id].content_hash == h:
                counts["unchanged"] += 1
                continue
            reply = backend.complete(
                [{"role": "user", "content": PROMPT.format(vignette=case.vignette)}],
                Sampling(temperature=0.0, max_tokens=max_tokens, seed=0),
            )
            result = parse_extraction(reply.text, case.vignette)
            if case.id in done:
                session.delete(done[case.id])
                session.flush()
            session.add(CaseRedFlags(case_id=case.id, extractor=extractor, flags=result.flags,
                                     rejected=result.rejected, content_hash=h))  # fmt: skip
            counts["extracted"] += 1
            counts["flags"] += len(result.flags)
            counts["rejected"] += len(result.rejected)
    finally:
        backend.close()
    session.flush()
    return counts
