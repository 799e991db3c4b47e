"""A methods paragraph generated from what the study recorded, so that a lead can cite exactly what ran.

Every sentence is built from the database (models, runs, grades, annotations, final labels, settings);
where something was not recorded the text says so instead of guessing.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import select

from db.models import Grade, Response, Run

_TIERS = ("exact", "synonym", "fuzzy", "embedding", "option", "imported", "clinician", "none")


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _host(url: str | None) -> str:
    # Only the host: a URL may carry a key or a private path.
    return urlsplit(url).hostname or "" if url else ""


def _sampling(params: dict | None) -> str:
    if not params:
        return "the backend's default sampling settings"
    return ", ".join(f"{k} {json.dumps(v)}" for k, v in sorted(params.items()))


def _models(data: Any) -> str:
    parts = []
    for m in sorted(data.models.values(), key=lambda m: m.id):
        runs = [r for r in data.runs if r.model_id == m.id]
        where = "responses imported from elsewhere" if runs and all(r.source == "imported" for r in runs) else None
        if where is None:
            server = _host(m.base_url)
            where = f"backend {m.backend}" + (f" at {server}" if server else "")
        params = next((r.params for r in runs if r.params), None) or m.params
        paired = data.models.get(m.paired_model_id)
        parts.append(
            f"{m.name} ({m.model_id or 'model id not recorded'}; {where}; "
            f"{'reasoning' if m.is_reasoning else 'non-reasoning'}"
            + (f", paired with its base model {paired.name}" if paired else "")
            + f"; {_sampling(params)})"
        )
    if not parts:
        return "No model is configured yet."
    return f"{len(parts)} model(s) answered the cases: " + "; ".join(parts) + "."


def _runs(data: Any) -> str:
    if not data.runs:
        return ""
    templates = Counter(
        f"{r.template_name} version {r.template_version or '?'} (SHA-256 {r.template_hash[:12]})"
        if r.template_hash
        else f"{r.template_name or 'no template recorded'}"
        for r in data.runs
    )
    sets = ", ".join(
        f"{cs.name} ({sum(1 for c in data.cases.values() if c.case_set_id == cs.id)} cases)"
        for cs in sorted(data.case_sets.values(), key=lambda c: c.name)
    )
    repeats = sorted({r.repeats for r in data.runs})
    return (
        f"Case set(s): {sets}. Prompt template(s): {_join(sorted(templates))}. "
        f"Repeats per case: {_join([str(r) for r in repeats])}; the statistics use the first repeat."
    )


def _grading(data: Any) -> str:
    if not data.responses:
        return ""
    # Aggregated in SQL: the grades' per-diagnosis details are not read, only the two settings the text names.
    rows = data.session.exec(
        select(
            Grade.k,
            Grade.grader,
            Grade.details["thresholds"].as_string(),
            Grade.details["embedding_tier"].as_boolean(),
        )
        .join(Response, Response.id == Grade.response_id)
        .join(Run, Run.id == Response.run_id)
        .where(Run.study_id == data.study.id)
        .distinct()
    ).all()
    if not rows:
        return "The responses are not graded yet."
    ks = sorted({k for k, _, _, _ in rows})
    graders = sorted({g for _, g, _, _ in rows if g and "/" in g})  # versions, not clinicians' usernames
    settings = (json.loads(t) for t in {t for _, _, t, _ in rows if t})
    thresholds = {json.dumps(th, sort_keys=True) for th in settings if th}
    embedded = {e for _, _, _, e in rows if e is not None}
    methods = Counter(data.grades["method"].dropna())
    text = (
        f"A response counted as correct when the gold diagnosis was among its first {_join([str(k) for k in ks])} "
        f"diagnoses (grader {_join(graders) or 'not recorded'}). Grading tiers, tried in order: exact name, curated "
        "synonym, fuzzy string match, embedding similarity (all-MiniLM-L6-v2)"
    )
    if len(thresholds) == 1:
        th = json.loads(next(iter(thresholds)))
        text += (
            f"; a fuzzy score of at least {th['fuzzy_confident']:g} or a cosine of at least "
            f"{th['embedding_confident']:g} counted as a match, and scores from {th['fuzzy_uncertain']:g} "
            f"(fuzzy) or {th['embedding_uncertain']:g} (cosine) waited for a clinician"
        )
    elif thresholds:
        text += f"; the responses were graded with {len(thresholds)} different threshold settings"
    if embedded == {False}:
        text += "; the embedding tier was switched off"
    text += ". A clinician's grade overrides an automatic one. Grades that count, by tier: "
    text += ", ".join(f"{t} {methods[t]}" for t in (*_TIERS, *sorted(set(methods) - set(_TIERS))) if methods.get(t))
    pending = int((data.grades["status"] == "pending").sum())
    return text + (f"; {pending} still wait for a clinician." if pending else ".")


def _statistics(data: Any, conf_level: float) -> str:
    alpha = data.study.significance_level
    return (
        f"Accuracy is reported with {round(100 * conf_level):g}% Wilson score intervals (1 - alpha, so that an "
        "interval of a paired difference excluding 0 matches the test). Each reasoning model was compared with its "
        "base model on the cases both answered with McNemar's exact (binomial) two-sided test; paired differences "
        f"have Newcombe's interval. The significance level, from the study file, is {alpha:g}; p-values are "
        "adjusted with Holm's method across the pairs within the overall comparison and within each subgroup "
        "level, and both the uncorrected and the Holm-adjusted p-values are shown. Subgroups: incidence and "
        "specialty of the case. Error-mode prevalence is a share of each model's settled incorrect responses with "
        "95% Wilson intervals; differences between the models of a pair use Newcombe's interval and Fisher's exact "
        "test (descriptive)."
    )


def _annotation(data: Any, n_boot: int) -> str:
    codebook = (
        f"codebook version {data.codebook.version}"
        + (f" ({data.codebook.title})" if data.codebook.title else "")
        + f" with the error modes {_join([data.names[c] for c in data.codes])}"
        if data.codebook
        else "no codebook chosen yet"
    )
    people = {a.annotator_id for v in data.annotations.values() for a in v}
    per_response = Counter(len({a.annotator_id for a in v}) for v in data.annotations.values())
    overlap = ", ".join(f"{n} by {k}" for k, n in sorted(per_response.items()))
    methods = Counter(f.method for f in data.settled.values())
    text = (
        f"Annotation used the {codebook}. {len(people)} clinician annotator(s) labelled {len(data.annotations)} "
        f"response(s) ({overlap or 'none yet'} annotator(s)), "
        + ("blinded to the model" if data.study.blind_models else "seeing the model")
        + " and "
        + ("to each other's labels" if data.study.blind_annotators else "seeing each other's labels")
        + ". A response's final label is unanimous, the majority's, or a lead's adjudication; the settled set "
        f"counts {len(data.settled)} incorrect response(s) with a final label"
        + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(methods.items())) + ")" if methods else "")
        + ". Agreement per error mode: Krippendorff's α (nominal per mode, MASI distance on the label set, interval "
        "on the first erroneous step) and Gwet's AC1, with intervals from "
        f"{n_boot} bootstrap resamples of cases."
    )
    return text


def methods_paragraphs(data: Any, *, conf_level: float, n_boot: int) -> list[str]:
    """The methods text, one paragraph each: models and prompts, grading, statistics, annotation."""
    return [
        p
        for p in (
            " ".join(x for x in (_models(data), _runs(data)) if x),
            _grading(data),
            _statistics(data, conf_level),
            _annotation(data, n_boot),
        )
        if p
    ]
