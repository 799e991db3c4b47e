"""Building the report's sections from a study in the database.

Each section is built on its own; when its data is missing (nothing graded, no final labels, no
clustering, ...) it says so and how to get it, and the rest of the report is still written.
"""

from __future__ import annotations

import gc
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, select

import pipeline
from db.models import (
    INCIDENCES,
    Annotation,
    Case,
    CaseSet,
    CodebookVersion,
    FinalLabel,
    Grade,
    Model,
    Response,
    Run,
    Study,
)
from pipeline.errors import DxTraceError
from pipeline.intervals import estimate_interval
from pipeline.report import _charts
from pipeline.report._accuracy import accuracy_section
from pipeline.report._flow import FLOW_STEPS, flow_counts
from pipeline.report._methods import methods_paragraphs
from pipeline.report._model import (
    Chart,
    Exemplar,
    ExemplarStep,
    Gap,
    Heading,
    Paragraph,
    Report,
    Section,
    Table,
)
from pipeline.report._prevalence import (
    co_occurrence,
    combinations_count,
    pair_prevalence,
    prevalence_frame,
)
from pipeline.report._signals import signals_section

MAX_STEP_CHARS = 700
MAX_SHOWN_STEPS = 12
_METHOD_WEIGHT = {"unanimous": 2, "adjudicated": 2, "majority": 1}
_STEP_CONTEXT = 1


_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.M)


def _plain(text: str | None) -> str:
    """Case text as plain prose: Markdown emphasis and heading marks in source files are not shown raw."""
    text = _MD_HEADING.sub("", text or "")
    return _EMPHASIS.sub(lambda m: m.group(2) or m.group(3), text)


def _short(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _level_order(values, subgroup: str) -> list:
    present = [v for v in dict.fromkeys(values) if v is not None and not (isinstance(v, float) and pd.isna(v))]
    if subgroup == "incidence":
        return [v for v in INCIDENCES if v in present] + sorted(v for v in present if v not in INCIDENCES)
    return sorted(present)


@dataclass(frozen=True, slots=True)
class _Response:
    """What the report needs of every response; the texts are read only for the responses it shows."""

    id: int
    model_id: int
    case_id: int
    has_trace: bool  # a trace that is not blank


_TRACE_HEAD = 256


def _light_responses(session: Session, study_id: int) -> dict[int, _Response]:
    """The study's responses without their texts: a 100,000-response study's traces do not fit in memory well.

    Whether a trace is blank is decided from its first characters and its length; only a trace whose first
    characters are all white space and that is longer than them is read whole (rare)."""
    rows = session.exec(
        select(
            Response.id,
            Response.model_id,
            Response.case_id,
            func.length(Response.trace),
            func.substr(Response.trace, 1, _TRACE_HEAD),
        )
        .join(Run, Response.run_id == Run.id)
        .where(Run.study_id == study_id)
        .order_by(Response.id)
    ).all()
    out: dict[int, _Response] = {}
    unsure: list[int] = []
    for rid, model_id, case_id, length, head in rows:
        blank = not (head or "").strip()
        if blank and (length or 0) > _TRACE_HEAD:
            unsure.append(rid)
        out[rid] = _Response(rid, model_id, case_id, not blank)
    for rid in unsure:
        trace = session.exec(select(Response.trace).where(Response.id == rid)).one()
        out[rid] = replace(out[rid], has_trace=bool(trace and trace.strip()))
    return out


class _Study:
    """Everything the sections read, loaded once."""

    def __init__(self, session: Session, study: Study):
        self.session = session
        self.study = study
        self.models = {m.id: m for m in session.exec(select(Model).where(Model.study_id == study.id))}
        self.runs = list(session.exec(select(Run).where(Run.study_id == study.id).order_by(Run.id)))
        set_ids = {r.case_set_id for r in self.runs}
        self.case_sets = {c.id: c for c in session.exec(select(CaseSet).where(CaseSet.id.in_(set_ids)))}
        self.responses = _light_responses(session, study.id)
        case_ids = select(Response.case_id).join(Run, Response.run_id == Run.id).where(Run.study_id == study.id)
        self.cases = {c.id: c for c in session.exec(select(Case).where(Case.id.in_(case_ids.distinct())))}
        self.codebook = session.get(CodebookVersion, study.codebook_version_id) if study.codebook_version_id else None
        finals = list(session.exec(select(FinalLabel).where(FinalLabel.study_id == study.id)))
        self.finals = {f.response_id: f for f in finals if f.response_id in self.responses}
        self.annotations: dict[int, list[Annotation]] = defaultdict(list)
        for a in session.exec(select(Annotation).where(Annotation.study_id == study.id)):
            self.annotations[a.response_id].append(a)
        from pipeline.accuracy import effective_grades

        # The settled set: every error-mode figure of the report (flow, prevalence, co-occurrence, clusters,
        # exemplars, summary) counts exactly these responses, graded incorrect and with a final label.
        self.grades = effective_grades(session, study.id)
        wrong = self.grades["correct"].eq(False).fillna(False).astype(bool)
        self.incorrect = set(int(r) for r in self.grades.loc[wrong, "response_id"])
        self.settled = {rid: f for rid, f in self.finals.items() if rid in self.incorrect}
        self.unsettled_finals = len(self.finals) - len(self.settled)  # final labels on responses not graded incorrect
        ks = sorted(
            session.exec(
                select(Grade.k)
                .join(Response, Response.id == Grade.response_id)
                .join(Run, Run.id == Response.run_id)
                .where(Run.study_id == study.id)
                .distinct()
            ).all()
        )
        self.k = ks[-1] if ks else 5
        modes = self.codebook.error_modes if self.codebook else []
        self.codes = [m["code"] for m in modes]
        self.names = {m["code"]: m.get("name") or m["code"] for m in modes}
        for f in self.settled.values():
            for c in f.error_modes:
                if c not in self.names:
                    self.codes.append(c)
                    self.names[c] = c

    def settled_statement(self) -> str:
        methods = Counter(f.method for f in self.settled.values())
        text = (
            f"The settled set: {len(self.settled)} response(s) graded incorrect with a final label"
            + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(methods.items())) + ")" if methods else "")
            + "; every error-mode figure in this report counts these responses."
        )
        if self.unsettled_finals:
            text += f" {self.unsettled_finals} final label(s) on responses not (or no longer) graded incorrect are left out."
        return text

    def model_name(self, model_id: int) -> str:
        return self.models[model_id].name

    def labels(self) -> pd.DataFrame:
        """One row per response of the settled set."""
        rows = []
        for rid, f in self.settled.items():
            resp = self.responses[rid]
            case = self.cases[resp.case_id]
            rows.append(
                {
                    "response_id": rid,
                    "model": self.model_name(resp.model_id),
                    "case_key": case.case_key,
                    "specialty": case.specialty,
                    "incidence": case.incidence,
                    "method": f.method,
                    "modes": list(f.error_modes),
                }
            )
        return pd.DataFrame(
            rows, columns=["response_id", "model", "case_key", "specialty", "incidence", "method", "modes"]
        )

    def pairs(self) -> list[tuple[str, str]]:
        return [
            (m.name, self.models[m.paired_model_id].name)
            for m in self.models.values()
            if m.paired_model_id in self.models
        ]


# ---------------------------------------------------------------------------------------------- design
def _design(data: _Study) -> Section:
    s = Section("design", "Study design")
    st = data.study
    s.add(
        Paragraph(
            f"Study {st.name!r}"
            + (f": {st.description}" if st.description else "")
            + f". {len(data.responses)} responses of {len(data.models)} model(s) on {len(data.cases)} case(s)."
        )
    )
    if not data.responses:
        s.add(Paragraph("No responses yet: generate or import them first.", "note"))
        s.add(Paragraph("python -m pipeline generate --study " + st.name, "command"))

    for cs in sorted(data.case_sets.values(), key=lambda c: c.name):
        cases = [c for c in data.cases.values() if c.case_set_id == cs.id]
        s.add(Heading(f"Case set {cs.name} ({cs.task}, {len(cases)} cases used)"))
        if cs.description:
            s.add(Paragraph(cs.description, "note"))
        if cs.attribution:
            s.add(Paragraph("Source: " + cs.attribution, "note"))
        incidences = _level_order([c.incidence for c in cases], "incidence")
        specialties = _level_order([c.specialty for c in cases], "specialty")
        if incidences and specialties:
            rows = []
            for sp in specialties:
                counts = [sum(1 for c in cases if c.specialty == sp and c.incidence == i) for i in incidences]
                rows.append([sp, *map(str, counts), str(sum(1 for c in cases if c.specialty == sp))])
            rows.append(
                ["Total", *[str(sum(1 for c in cases if c.incidence == i)) for i in incidences], str(len(cases))]
            )
            s.add(Table(["Specialty", *incidences, "Total"], rows, caption="Cases by specialty and incidence"))

    model_rows = []
    per_model = Counter(r.model_id for r in data.responses.values())
    for m in sorted(data.models.values(), key=lambda m: m.id):
        runs = [r for r in data.runs if r.model_id == m.id]
        repeats = max((r.repeats for r in runs), default=1)
        model_rows.append(
            [
                m.name,
                m.backend,
                m.model_id or "",
                "yes" if m.is_reasoning else "no",
                data.models[m.paired_model_id].name if m.paired_model_id in data.models else "",
                json.dumps(m.params, sort_keys=True) if m.params else "",
                str(per_model.get(m.id, 0)),
                str(repeats),
            ]
        )
    if model_rows:
        s.add(
            Table(
                ["Model", "Backend", "Model id", "Reasoning", "Paired with (base)", "Settings", "Responses", "Repeats"],
                model_rows,
                caption="Models",
            )
        )
    pairs = data.pairs()
    s.add(
        Paragraph(
            "Pairs compared: " + "; ".join(f"{a} vs {b}" for a, b in pairs)
            if pairs
            else "No model pairs are configured, so no paired comparisons."
        )
    )
    templates = Counter(
        (r.template_name or "(none)", r.template_version or "", (r.template_hash or "")[:12], r.source)
        for r in data.runs
    )
    if templates:
        s.add(
            Table(
                ["Template", "Version", "Hash", "Source", "Runs"],
                [[n, v, h, src, str(k)] for (n, v, h, src), k in sorted(templates.items())],
                caption="Prompt templates of the runs",
            )
        )
    settings = [
        ["Significance level", f"{st.significance_level:g}"],
        [
            "Codebook",
            f"version {data.codebook.version}: {data.codebook.title or ''}" if data.codebook else "not chosen yet",
        ],
        ["Models blinded to annotators", "yes" if st.blind_models else "no"],
        ["Annotators blinded to each other", "yes" if st.blind_annotators else "no"],
        ["Label suggestions shown", "yes" if st.show_suggestions else "no"],
    ]
    for key, value in (st.settings or {}).items():
        if key == "spec" and isinstance(value, dict):
            # The study file as loaded: its models are in the table above; show the rest, field by field.
            for name in ("path", "case_set", "template", "repeats", "k", "sample", "sample_seed", "cases", "where"):
                if value.get(name) not in (None, {}, []):
                    settings.append([f"study file: {name}", _setting(value[name])])
            continue
        settings.append([str(key), _setting(value)])
    s.add(Table(["Setting", "Value"], settings, caption="Settings"))

    n_ann = sum(len(v) for v in data.annotations.values())
    people = {a.annotator_id for v in data.annotations.values() for a in v}
    s.add(
        Paragraph(
            f"Annotation: {len(people)} annotator(s), {n_ann} annotation(s) of {len(data.annotations)} response(s); "
            f"{len(data.finals)} final label(s). {data.settled_statement()}"
        )
    )
    return s


# --------------------------------------------------------------------------------------------- methods
def _methods(data: _Study, *, n_boot: int) -> Section:
    s = Section("methods", "Methods (generated from the study)")
    s.add(
        Paragraph(
            "Generated from what the study database recorded; cite it as is or adapt it. Also in the paper folder "
            "as methods.md.",
            "note",
        )
    )
    for text in methods_paragraphs(data, conf_level=1 - data.study.significance_level, n_boot=n_boot):
        s.add(Paragraph(text))
    return s


# ------------------------------------------------------------------------------------------------ flow
def _flow(data: _Study) -> Section:
    title = "Flow of responses"
    if not data.responses:
        return Section.missing(
            "flow", title, "no responses yet", how=f"python -m pipeline generate --study {data.study.name}"
        )
    labelled = {rid for rid, v in data.annotations.items() if v}
    with_trace = {rid for rid, r in data.responses.items() if r.has_trace}
    flow = flow_counts(data.grades, with_trace=with_trace, labelled=labelled, settled=data.settled)
    s = Section("flow", title)
    s.add(
        Paragraph(
            "From responses to the settled set, per model, over all case sets and repeats (CONSORT-style). The four "
            "grading columns add up to the responses; 'with a trace', 'labelled' and 'settled' each count incorrect "
            "responses (a response without a trace can be labelled from its answer). " + data.settled_statement()
        )
    )
    s.add(
        Table(
            ["Model", *[h for _, h in FLOW_STEPS]],
            [[str(v) for v in row] for row in flow.itertuples(index=False)],
            caption="Flow of responses per model",
            data=flow,
        )
    )
    s.add(Chart("Flow of responses per model", _charts.flow_bars(flow), "chart-flow"))
    return s


def _setting(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


# ------------------------------------------------------------------------------------------ prevalence
def _settle_hint(data: _Study) -> str:
    return f"python -m pipeline adjudicate --study {data.study.name} --settle"


def _cell(r) -> str:
    """A prevalence cell, written like every interval in the report: 30% (11 to 60) 3/10."""
    return f"{estimate_interval(r.estimate, r.lower, r.upper, percent=True, digits=0, missing='–')} {r.k}/{r.n}"


def _prevalence_table(frame: pd.DataFrame, data: _Study, by: list[str], first: str) -> Table:
    codes = data.codes
    rows = []
    keys = frame[by].drop_duplicates().itertuples(index=False, name=None)
    for key in keys:
        mask = pd.Series(True, index=frame.index)
        for col, value in zip(by, key, strict=True):
            mask &= frame[col] == value
        sub = frame[mask]
        n = int(sub["n"].iloc[0]) if len(sub) else 0
        if n == 0:
            continue
        cells = {r.error_mode: r for r in sub.itertuples()}
        rows.append(
            [
                *[str(v) for v in key],
                str(n),
                *[_cell(cells[c]) for c in codes],
            ]
        )
    return Table([*([first] if len(by) == 1 else [first, "Model"]), "Settled", *[data.names[c] for c in codes]], rows)


def _prevalence(data: _Study) -> Section:
    title = "Error-mode prevalence"
    labels = data.labels()
    if labels.empty:
        reason = (
            "no final labels yet: annotations have not been settled"
            if data.annotations
            else "no annotations yet: assign responses to annotators and label them"
        )
        how = _settle_hint(data) if data.annotations else f"python -m pipeline assign --study {data.study.name}"
        return Section.missing("prevalence", title, reason, how=how)
    s = Section("prevalence", title)
    codes, names = data.codes, data.names
    s.add(
        Paragraph(
            data.settled_statement() + " Each error mode as a share of each model's settled incorrect responses, "
            "with the 95% Wilson score interval and the count. A response can show several modes, so shares add up "
            "to more than 100%."
        )
    )
    s.add(Heading("Per model"))
    per_model = prevalence_frame(labels, codes, ["model"])
    table = _prevalence_table(per_model, data, ["model"], "Model")
    overall = prevalence_frame(labels, codes)
    table.rows.append(["All models", str(len(labels)), *[_cell(r) for r in overall.itertuples()]])
    incorrect = Counter(
        data.model_name(data.responses[rid].model_id) for rid in data.incorrect if rid in data.responses
    )
    for row in table.rows:
        row.insert(1, str(sum(incorrect.values()) if row[0] == "All models" else incorrect.get(row[0], 0)))
    table.columns.insert(1, "Incorrect")
    table.caption = "Error modes per model: share of the settled incorrect responses (95% CI) count/settled"
    data_frame = pd.concat([per_model, overall.assign(model="All models")], ignore_index=True)
    n_incorrect = {**incorrect, "All models": sum(incorrect.values())}
    table.data = data_frame.assign(incorrect=[n_incorrect.get(m, 0) for m in data_frame["model"]])
    s.add(table)
    coverage = [f"{row[0]} {row[2]} of {row[1]}" for row in table.rows if row[0] != "All models" and row[1] != row[2]]
    if coverage:
        s.add(
            Paragraph(
                "Not every incorrect response is settled (settled of incorrect: " + "; ".join(coverage) + "): the "
                "shares describe the settled ones; as a share of all incorrect responses each count is a lower bound.",
                "note",
            )
        )
    s.add(Chart("Error-mode prevalence per model", _charts.prevalence_bars(per_model, names), "chart-prevalence"))

    pairs = data.pairs()
    if pairs:
        s.add(Heading("Per pair"))
        for a, b in pairs:
            rows = []
            for p in pair_prevalence(labels, codes, a, b):
                rows.append(
                    [
                        names[p.error_mode],
                        p.a.format(),
                        p.b.format(),
                        estimate_interval(
                            p.difference, p.lower, p.upper, percent=True, digits=0, signed=True, missing="–"
                        ),
                        "–" if p.p_value is None else (f"{p.p_value:.3g}" if p.p_value >= 0.001 else "<0.001"),
                    ]
                )
            s.add(
                Table(
                    [
                        "Error mode",
                        f"{a} share (CI) k/n",
                        f"{b} share (CI) k/n",
                        "Difference (95% Newcombe CI)",
                        "Fisher p",
                    ],
                    rows,
                    caption=f"{a} vs {b}",
                )
            )
        s.add(
            Paragraph(
                "Differences compare the settled responses of each model; they are descriptive (responses on the "
                "same case are not paired here, and only wrong answers are labelled).",
                "note",
            )
        )

    for subgroup, title_ in (("incidence", "Per incidence"), ("specialty", "Per specialty")):
        if labels[subgroup].isna().all():
            s.add(Heading(title_))
            s.add(Paragraph(f"not available: the cases have no {subgroup}", "note"))
            continue
        s.add(Heading(title_))
        frame = labels.assign(**{subgroup: labels[subgroup].fillna("unspecified")})
        levels = _level_order(frame[subgroup], subgroup)
        all_models = prevalence_frame(frame, codes, [subgroup])
        table = _prevalence_table(all_models, data, [subgroup], subgroup.capitalize())
        table.rows.sort(key=lambda r: levels.index(r[0]) if r[0] in levels else len(levels))
        table.caption = f"Error modes per {subgroup}, all models"
        s.add(table)
        if frame["model"].nunique() > 1:
            per = prevalence_frame(frame, codes, [subgroup, "model"])
            t = _prevalence_table(per, data, [subgroup, "model"], subgroup.capitalize())
            t.rows.sort(key=lambda r: (levels.index(r[0]) if r[0] in levels else len(levels), r[1]))
            t.caption = f"Error modes per {subgroup} and model"
            s.add(t)

    s.add(Heading("Modes occurring together"))
    matrix = co_occurrence(labels, codes)
    s.add(
        Table(
            ["", *[names[c] for c in codes]],
            [[names[a], *[str(matrix.loc[a, b]) for b in codes]] for a in codes],
            caption="Settled responses with both modes (diagonal: with the mode at all)",
        )
    )
    combos = combinations_count(labels, codes)
    s.add(
        Table(
            ["Label set", "Responses", "Share"],
            [[" + ".join(names[c] for c in combo) or "(none)", str(k), _pct(k / len(labels))] for combo, k in combos],
            caption="Most frequent label sets",
        )
    )
    s.add(Chart("Co-occurrence of error modes", _charts.co_occurrence_heatmap(matrix, names), "chart-cooccurrence"))
    return s


# ------------------------------------------------------------------------------------------- agreement
def _agreement(data: _Study, *, n_boot: int, seed: int) -> Section:
    from pipeline.agreement import STATISTIC_TITLES, agreement_report

    title = "Inter-rater agreement"
    if not data.annotations:
        return Section.missing(
            "agreement", title, "no annotations yet", how=f"python -m pipeline assign --study {data.study.name}"
        )
    try:
        report = agreement_report(data.session, data.study.id, n_boot=n_boot, seed=seed, pseudonymise=True)
    except DxTraceError as exc:
        return Section.missing("agreement", title, str(exc))
    if report.n_items == 0 or not report.error_modes:
        return Section.missing(
            "agreement", title, "no response has been labelled by two or more annotators yet", how=None
        )
    s = Section("agreement", title)
    s.add(Paragraph(report.to_markdown().split("\n", 1)[0]))
    frame = report.summary_frame()
    frame["variable"] = [data.names.get(v, v) for v in frame["variable"]]
    s.add(
        Table(
            [str(c) for c in frame.columns],
            [
                ["" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in row]
                for row in frame.itertuples(index=False)
            ],
            caption="Agreement per error mode, on the whole label set and on the first erroneous step",
        )
    )
    points = []
    for v in report.error_modes:
        e = v.estimates.get("alpha")
        points.append(
            (
                data.names.get(v.label, v.label),
                e.value if e else None,
                e.ci_low if e else None,
                e.ci_high if e else None,
            )
        )
    if any(p[1] is not None for p in points):
        s.add(
            Chart(
                "Krippendorff's α per error mode (bootstrap CI)",
                _charts.agreement_points(points, STATISTIC_TITLES["alpha"]),
                "chart-agreement",
            )
        )
    for label, statistic, reason in report.undefined():
        s.add(
            Paragraph(
                f"{data.names.get(label, label)}, {STATISTIC_TITLES.get(statistic, statistic)}: undefined ({reason})",
                "note",
            )
        )
    for w in report.warnings:
        s.add(Paragraph(w, "note"))
    s.add(
        Paragraph(
            "Annotators are anonymous here (A, B, C ...). Reference lines: α ≥ 0.8 reliable, ≥ 0.667 tentative (Krippendorff).",
            "note",
        )
    )
    return s


# -------------------------------------------------------------------------------------------- clusters
def _clusters(data: _Study) -> Section:
    from pipeline.cluster import cluster_overview, latest_clustering

    title = "Clusters of reasoning traces"
    clustering = latest_clustering(data.session, data.study.id)
    if clustering is None:
        return Section.missing(
            "clusters",
            title,
            "the traces have not been clustered",
            how=f"python -m pipeline embed --study {data.study.name} && python -m pipeline cluster --study {data.study.name}",
        )
    correct = {
        int(rid): (None if pd.isna(ok) else bool(ok))
        for rid, ok in zip(data.grades["response_id"], data.grades["correct"], strict=True)
    }
    # The section shows no trace text (typical responses by model and case), so none is read.
    overview = cluster_overview(data.session, clustering.id, snippet_ids=(), correct=correct)
    s = Section("clusters", title)
    s.add(
        Paragraph(
            f"{clustering.method} clustering of {len(overview.points)} embedded {clustering.field}s "
            f"({clustering.embedding_model}) into {clustering.n_clusters} clusters"
            + (f", silhouette {clustering.silhouette:.2f}" if clustering.silhouette is not None else "")
            + f", made {clustering.created_at:%Y-%m-%d}."
        )
    )

    def key_of(rid: int) -> str:
        r = data.responses.get(rid)
        return f"{data.model_name(r.model_id)} · {data.cases[r.case_id].case_key}" if r else str(rid)

    rows = []
    for info in overview.clusters:
        finals = Counter(
            c
            for rid in overview.points.loc[overview.points["cluster"] == info.cluster, "response_id"]
            for c in (data.settled[rid].error_modes if rid in data.settled else [])
        )
        rows.append(
            [
                "noise" if info.cluster == -1 else str(info.cluster),
                str(info.size),
                ", ".join(info.keywords[:8]),
                _pct(info.correct_rate),
                ", ".join(f"{m} {n}" for m, n in sorted(info.models.items(), key=lambda x: -x[1])),
                ", ".join(f"{data.names.get(c, c)} {n}" for c, n in finals.most_common()) or "–",
                "; ".join(key_of(r) for r in info.typical[:3]),
            ]
        )
    s.add(
        Table(
            ["Cluster", "Size", "Keywords", "Correct", "Models", "Final error modes", "Typical responses"],
            rows,
            caption="Clusters: size, distinctive words, share correct and the error modes of their labelled responses",
        )
    )
    ev = overview.evaluation
    if ev is not None and ev.n_labeled:
        parts = [f"{ev.n_labeled} labelled responses"]
        if ev.adjusted_rand is not None:
            parts.append(f"adjusted Rand index {ev.adjusted_rand:.2f}")
        if ev.purity is not None:
            parts.append(f"purity {ev.purity:.2f}")
        if ev.suggestion_hit_rate is not None:
            parts.append(f"neighbour suggestion hit rate {_pct(ev.suggestion_hit_rate)}")
        s.add(Paragraph("Clusters against the human labels: " + ", ".join(parts) + ".", "note"))
    points = overview.points.copy()
    if len(points) and points["x"].notna().any():
        points["label"] = points["human_label"].fillna("")
        s.add(Chart("Map of the traces, coloured by cluster", _charts.cluster_map(points), "chart-cluster-map"))
    counts = [
        {"cluster": int(cluster), "error_mode": c}
        for rid, cluster in zip(overview.points["response_id"], overview.points["cluster"], strict=True)
        if int(rid) in data.settled
        for c in data.settled[int(rid)].error_modes
    ]
    if counts:
        frame = pd.DataFrame(counts).value_counts().rename("count").reset_index().sort_values(["error_mode", "cluster"])
        s.add(
            Chart(
                "Final error modes within each cluster", _charts.cluster_modes(frame, data.names), "chart-cluster-modes"
            )
        )
    return s


# ------------------------------------------------------------------------------------------- exemplars
def _window(n_steps: int, marked: set[int], first: int | None) -> list[int]:
    anchors = sorted(marked | ({first} if first else set()))
    if not anchors:
        anchors = [1]
    shown: set[int] = set()
    for a in anchors:
        shown.update(range(max(1, a - _STEP_CONTEXT), min(n_steps, a + _STEP_CONTEXT) + 1))
        if len(shown) >= MAX_SHOWN_STEPS:
            break
    return sorted(shown)[:MAX_SHOWN_STEPS]


def _exemplar(data: _Study, resp: Response, code: str, cited: Counter, steps: list[str]) -> Exemplar:
    rid = resp.id
    case = data.cases[resp.case_id]
    final = data.settled[rid]
    numbers = _window(len(steps), set(cited), final.first_error_step)
    shown: list[ExemplarStep | Gap] = []
    previous = 0
    for n in numbers:
        if n - previous > 1:
            shown.append(Gap(n - previous - 1))
        text = steps[n - 1]
        shown.append(
            ExemplarStep(
                number=n,
                text=_short(text, MAX_STEP_CHARS),
                evidence=n in cited,
                cited_by=cited.get(n, 0),
                first_error=n == final.first_error_step,
                truncated=len(text) > MAX_STEP_CHARS,
            )
        )
        previous = n
    if previous < len(steps):
        shown.append(Gap(len(steps) - previous))
    rationales = []
    for a in data.annotations.get(rid, []):
        if code in a.error_modes and a.rationale:
            rationales.append(_short(a.rationale, 400))
        if code == "other" and a.other_description:
            rationales.append("Other: " + _short(a.other_description, 200))
    if final.method == "adjudicated" and final.rationale:
        rationales.append("Adjudication: " + _short(final.rationale, 400))
    answer = "; ".join(resp.diagnoses) if resp.diagnoses else _short(_plain(resp.answer).replace("```", " "), 300)
    return Exemplar(
        error_mode=code,
        mode_name=data.names[code],
        title=f"{data.model_name(resp.model_id)} on case {case.case_key}",
        case_line=" · ".join(
            x
            for x in (
                ", ".join(y for y in (case.specialty, case.incidence) if y),
                f"gold diagnosis: {case.gold_diagnosis}",
            )
            if x
        ),
        vignette=_short(_plain(case.vignette), 420),
        answer=answer or "(no answer)",
        final=f"{final.method}: " + ", ".join(data.names.get(c, c) for c in final.error_modes),
        steps=shown,
        n_steps=len(steps),
        rationales=rationales[:3],
    )


def _exemplars(data: _Study, per_mode: int) -> Section:
    from pipeline.annotation import split_steps

    title = "Exemplars per error mode"
    if not data.settled:
        reason = "the settled set is empty: no incorrect response has a final label yet"
        return Section.missing("exemplars", title, reason, how=_settle_hint(data) if data.annotations else None)
    labelled = [rid for rid, f in data.settled.items() if f.error_modes and data.responses[rid].has_trace]
    s = Section("exemplars", title)
    s.add(Paragraph(data.settled_statement(), "note"))
    s.add(
        Paragraph(
            "For each error mode, the responses whose final label includes it and whose annotators agreed most on where "
            "it shows. Evidence steps are marked, with how many annotators cited them; neighbouring steps give context; "
            "the first erroneous step of the final label is flagged. Step numbers are those annotators saw."
        )
    )
    for code in data.codes:
        if code == "no_error":
            continue
        s.add(Heading(data.names[code]))
        name = data.names[code]
        total = sum(1 for f in data.settled.values() if code in f.error_modes)
        traced = sum(1 for rid in labelled if code in data.settled[rid].error_modes)
        if total == 0:
            s.add(Paragraph(f"No response of the settled set has {name!r} in its final label.", "note"))
            continue
        s.add(
            Paragraph(
                f"{total} settled response(s) have {name!r} in their final label (as counted under prevalence); "
                + (
                    f"{traced} of them {'has' if traced == 1 else 'have'} a reasoning trace to excerpt."
                    if traced
                    else "none of them has a reasoning trace to excerpt (answers only)."
                ),
                "note",
            )
        )
        candidates = []
        for rid in labelled:
            if code not in data.settled[rid].error_modes:
                continue
            cited: Counter = Counter()
            n_citing = 0
            for a in data.annotations.get(rid, []):
                numbers = (a.evidence or {}).get(code) or []
                if numbers:
                    n_citing += 1
                cited.update(numbers)
            score = (n_citing, _METHOD_WEIGHT.get(data.settled[rid].method, 0), sum(cited.values()))
            candidates.append((score, rid, cited))
        candidates.sort(key=lambda c: (tuple(-x for x in c[0]), c[1]))
        chosen, seen_cases = [], set()
        for _score, rid, cited in candidates:
            case_id = data.responses[rid].case_id
            if case_id in seen_cases:
                continue  # one exemplar per case, so the excerpts show different situations
            seen_cases.add(case_id)
            chosen.append((rid, cited))
            if len(chosen) >= per_mode:
                break
        for rid, cited in chosen:
            resp = data.session.get(Response, rid)  # the texts of the shown responses only
            s.add(_exemplar(data, resp, code, cited, split_steps(resp.trace)))
    return s


# -------------------------------------------------------------------------------------------- the whole
def build_report(
    session: Session,
    study_id: int | str,
    *,
    exemplars: int = 3,
    n_boot: int = 2000,
    seed: int = 0,
    on_step: Callable[[int, int, str], None] | None = None,
) -> Report:
    """Every section of the qualitative error report of a study, as data (render it with render_html / render_markdown).

    on_step(done, total, what) is called before each section, for a progress bar.
    """
    from pipeline.annotation import get_study

    study = get_study(session, study_id)
    data = _Study(session, study)
    builders: list[tuple[str, Callable[[], Section]]] = [
        ("design", lambda: _design(data)),
        ("methods", lambda: _methods(data, n_boot=n_boot)),
        ("flow", lambda: _flow(data)),
        ("accuracy", lambda: accuracy_section(data)),
        ("prevalence", lambda: _prevalence(data)),
        ("agreement", lambda: _agreement(data, n_boot=n_boot, seed=seed)),
        ("clusters", lambda: _clusters(data)),
        ("exemplars", lambda: _exemplars(data, exemplars)),
    ]
    sections = []
    # statsmodels' Holm correction calls gc.collect() for every family of tests; without this each call
    # would walk every object of the loaded study (seconds each at 100,000 responses). Frozen objects are
    # still freed when no longer referenced; only cycles among them wait for unfreeze.
    gc.freeze()
    try:
        for done, (what, build) in enumerate(builders):
            if on_step:
                on_step(done, len(builders), f"report: {what}")
            sections.append(build())
        # Signals are optional: their section appears once they are computed (python -m pipeline signals).
        signals = signals_section(session, study.id, study.name, n_boot=n_boot, seed=seed, grades=data.grades)
    finally:
        gc.unfreeze()
    if signals.available:
        sections.insert(-1, signals)
    summary = []
    if data.settled:
        labels = data.labels()
        overall = prevalence_frame(labels, data.codes).sort_values("k", ascending=False)
        top = overall[overall["error_mode"] != "no_error"].head(3)
        summary.append(
            f"{len(labels)} incorrect responses are settled (the settled set); most frequent error modes: "
            + ", ".join(f"{data.names[r.error_mode]} {r.k} ({_pct(r.estimate)})" for r in top.itertuples() if r.k)
            + "."
        )
    missing = [s.title for s in sections if not s.available]
    if missing:
        summary.append("Not available yet: " + ", ".join(missing) + " (see each section for why).")
    return Report(
        study=study.name,
        title=f"Qualitative error report: {study.name}",
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        dxtrace_version=pipeline.__version__,
        sections=sections,
        summary=summary,
    )
