"""SQLModel tables for a whole DxTrace study.

Vocabulary (one name for one thing, everywhere):
case (a vignette with its gold diagnosis), response (one model's output on one
case), trace (the reasoning part of a response), grade (is the gold diagnosis
among the response's diagnoses), annotation (one annotator's error-mode labels
on one response), error mode (a code from the codebook).

Schema changes go through alembic (db/migrations); never edit a released
migration, add a new one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

TASK_DIFFERENTIAL = "differential"
TASK_MULTIPLE_CHOICE = "multiple_choice"
TASKS = (TASK_DIFFERENTIAL, TASK_MULTIPLE_CHOICE)

INCIDENCES = ("Frequent", "Less Frequent", "Rare")

ROLE_ANNOTATOR = "annotator"
ROLE_LEAD = "lead"
ROLES = (ROLE_ANNOTATOR, ROLE_LEAD)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


def _text(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


def _created() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class CaseSet(SQLModel, table=True):
    """A named collection of cases, imported from one file."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    task: str = Field(default=TASK_DIFFERENTIAL)  # default task of its cases
    source: str | None = None  # file it was imported from
    attribution: str | None = _text()
    licence: str | None = None
    description: str | None = _text()
    created_at: datetime = _created()


class Case(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("case_set_id", "case_key"),)

    id: int | None = Field(default=None, primary_key=True)
    case_set_id: int = Field(foreign_key="caseset.id", index=True)
    case_key: str  # the case id in its source file, e.g. "S001"
    specialty: str | None = Field(default=None, index=True)
    incidence: str | None = Field(default=None, index=True)  # one of INCIDENCES
    vignette: str = Field(sa_column=Column(Text, nullable=False))
    gold_diagnosis: str
    synonyms: list | None = _json()  # accepted alternative names of the gold diagnosis
    task: str = Field(default=TASK_DIFFERENTIAL)
    options: list | None = _json()  # answer options of a multiple-choice case
    attributes: dict | None = _json()  # free extra attributes (subgroups, urls, ...)
    content_hash: str  # detects a changed case on re-import
    created_at: datetime = _created()


class Study(SQLModel, table=True):
    """A study: its runs, annotators' assignments and per-study settings."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    description: str | None = _text()
    blind_models: bool = True  # annotators do not see which model wrote a response
    blind_annotators: bool = True  # annotators do not see other annotators' labels
    show_suggestions: bool = False  # neighbour-label suggestions in the annotation view
    significance_level: float = 0.01
    codebook_version_id: int | None = Field(default=None, foreign_key="codebookversion.id")
    settings: dict | None = _json()  # the study file as loaded, and other settings
    created_at: datetime = _created()


class Model(SQLModel, table=True):
    """A model as configured in a study (backend, parameters, pairing)."""

    __table_args__ = (UniqueConstraint("study_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    name: str  # label used in tables, e.g. "DeepSeek-R1-Distill-Llama-8B"
    backend: str  # registered backend name: "openai", "llamacpp", "import"
    model_id: str | None = None  # what the backend calls it
    base_url: str | None = None
    params: dict | None = _json()  # temperature, top_p, max_tokens, seed, ...
    is_reasoning: bool = False
    paired_model_id: int | None = Field(default=None, foreign_key="model.id")  # its base model
    created_at: datetime = _created()


class Run(SQLModel, table=True):
    """One model on one case set with one prompt template."""

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    model_id: int = Field(foreign_key="model.id", index=True)
    case_set_id: int = Field(foreign_key="caseset.id", index=True)
    template_name: str | None = None
    template_version: str | None = None
    template_hash: str | None = None
    repeats: int = 1
    source: str = "generated"  # "generated" or "imported"
    status: str = "running"  # "running", "complete", "failed"
    params: dict | None = _json()  # sampling settings as run
    meta: dict | None = _json()  # host, library versions, dxtrace version, ...
    started_at: datetime = _created()
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Response(SQLModel, table=True):
    """One model output on one case: prompt, raw output, trace, answer."""

    __table_args__ = (UniqueConstraint("run_id", "case_id", "repeat"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    model_id: int = Field(foreign_key="model.id", index=True)
    repeat: int = 0
    prompt: str | None = _text()  # exact rendered prompt (chat messages as JSON text)
    raw_output: str | None = _text()  # everything the backend returned as text
    trace: str | None = _text()  # the reasoning trace, None for base models
    answer: str | None = _text()  # the final answer text
    diagnoses: list | None = _json()  # parsed ranked diagnoses, up to five
    chosen_option: str | None = None  # multiple choice: the parsed option
    parse_ok: bool = True
    parse_error: str | None = None  # why parsing failed or fell back (parse_ok=False)
    parse_reader: str | None = None  # format readers that split trace/answer: "think_tags+answer_section", "plain"
    answer_shape: str | None = None  # "list" (ranked diagnoses), "single" (one final diagnosis), None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    latency_s: float | None = None
    finish_reason: str | None = None
    error: str | None = _text()  # request failure after retries; such rows are retried on resume
    extra: dict | None = _json()  # imported fields kept verbatim (e.g. Likert scores)
    created_at: datetime = _created()


class Annotator(SQLModel, table=True):
    """A person who signs in: an annotator or a lead."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)
    display_name: str | None = None
    role: str = ROLE_ANNOTATOR  # one of ROLES
    password_hash: str
    active: bool = True
    created_at: datetime = _created()
    can_grade: bool | None = False  # may record clinician grades in its assigned studies (leads always may)
    failed_sign_ins: int | None = 0  # consecutive failed sign-ins; reset by a good one or by a lead
    # Sign-in refused until then, unless a lead unlocks the account.
    locked_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class SessionToken(SQLModel, table=True):
    """A signed-in browser: a reload keeps the session while the token is valid (issue 16).

    Only the SHA-256 of the random token is stored; sign-out, deactivation and a password
    change revoke it, and it expires."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True)
    annotator_id: int = Field(foreign_key="annotator.id", index=True)
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Grade(SQLModel, table=True):
    """Whether a response contains the gold diagnosis. A clinician's grade wins."""

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="response.id", index=True)
    correct: bool | None = None  # None: uncertain, waits for a clinician
    rank: int | None = None  # 1-based rank of the matching diagnosis
    k: int = 5
    method: str  # "exact", "synonym", "fuzzy", "embedding", "option", "clinician", "imported", "none"
    score: float | None = None
    matched_diagnosis: str | None = None
    status: str = "auto"  # "auto", "pending", "clinician"
    grader: str = "auto"  # grader version, or the clinician's username
    annotator_id: int | None = Field(default=None, foreign_key="annotator.id")
    details: dict | None = _json()  # per-diagnosis scores
    created_at: datetime = _created()


class CodebookVersion(SQLModel, table=True):
    """A version of the error-mode codebook (data/codebook/v*.toml)."""

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(index=True, unique=True)
    title: str | None = None
    error_modes: list = Field(sa_column=Column(JSON, nullable=False))  # [{code, name, definition, example}]
    content_hash: str
    created_at: datetime = _created()


class Assignment(SQLModel, table=True):
    """A response given to an annotator to label, in the annotator's own order."""

    __table_args__ = (UniqueConstraint("study_id", "response_id", "annotator_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    response_id: int = Field(foreign_key="response.id", index=True)
    annotator_id: int = Field(foreign_key="annotator.id", index=True)
    position: int = 0  # order in the annotator's queue
    status: str = "pending"  # "pending", "done", "skipped", "flagged"
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Annotation(SQLModel, table=True):
    """One annotator's labels on one response."""

    __table_args__ = (UniqueConstraint("study_id", "response_id", "annotator_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    response_id: int = Field(foreign_key="response.id", index=True)
    annotator_id: int = Field(foreign_key="annotator.id", index=True)
    codebook_version_id: int = Field(foreign_key="codebookversion.id")
    error_modes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # codes
    evidence: dict | None = _json()  # {error mode code: [step numbers]}
    other_description: str | None = _text()
    first_error_step: int | None = None
    severity: str | None = None  # "minor", "moderate", "major", "critical"
    confidence: int | None = None  # 1..5
    rationale: str | None = _text()
    flagged: bool = False  # flagged for discussion
    suggestion_shown: bool = False
    suggestion: dict | None = _json()  # what was suggested, if shown
    signals_shown: bool | None = None  # were automatic error signals on screen (None: made before they existed)
    signals: dict | None = _json()  # the signals shown, if any: {signal name: [step numbers]}
    # Time spent (issue 16): first opened, last saved, and active seconds summed over every visit
    # (gaps between the annotator's actions, each capped, so a tab left open does not count).
    opened_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    saved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    active_seconds: float | None = None
    created_at: datetime = _created()
    updated_at: datetime = _created()


class AnnotationEvent(SQLModel, table=True):
    """Audit trail: every create or change of an annotation, with before and after."""

    id: int | None = Field(default=None, primary_key=True)
    annotation_id: int = Field(foreign_key="annotation.id", index=True)
    annotator_id: int = Field(foreign_key="annotator.id")  # who made the change
    action: str  # "create", "update"
    before: dict | None = _json()
    after: dict | None = _json()
    at: datetime = _created()


class Embedding(SQLModel, table=True):
    """A pooled vector of a response's trace or answer, cached by text hash."""

    __table_args__ = (UniqueConstraint("response_id", "embedding_model", "field", "text_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="response.id", index=True)
    embedding_model: str  # the key: backend, model and chunking; vectors of different keys are never mixed
    backend: str | None = None  # the embedding backend plug-in that made the vector ("local", "openai")
    model_name: str | None = None  # the model as the backend names it (a served model id for "openai")
    field: str = "trace"  # "trace" or "answer"
    text_hash: str
    n_chunks: int = 1
    dim: int
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # float32, little-endian
    created_at: datetime = _created()


class Clustering(SQLModel, table=True):
    """One clustering of a study's embeddings, with its parameters and summary."""

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    method: str  # "kmeans", "agglomerative", "hdbscan"
    embedding_model: str
    field: str = "trace"
    n_clusters: int
    silhouette: float | None = None
    params: dict | None = _json()
    summary: dict | None = _json()  # {cluster: {keywords, typical response ids, size}}
    created_at: datetime = _created()


class ClusterAssignment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("clustering_id", "response_id"),)

    id: int | None = Field(default=None, primary_key=True)
    clustering_id: int = Field(foreign_key="clustering.id", index=True)
    response_id: int = Field(foreign_key="response.id", index=True)
    cluster: int  # -1: noise (HDBSCAN)
    x: float | None = None  # 2-D map coordinates
    y: float | None = None
    distance: float | None = None  # to the cluster centre
    near_duplicate_of: int | None = Field(default=None, foreign_key="response.id")


class FinalLabel(SQLModel, table=True):
    """The settled error modes of a response and how they were reached."""

    __table_args__ = (UniqueConstraint("study_id", "response_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    response_id: int = Field(foreign_key="response.id", index=True)
    error_modes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    first_error_step: int | None = None
    method: str  # "unanimous", "majority", "adjudicated"
    adjudicator_id: int | None = Field(default=None, foreign_key="annotator.id")
    rationale: str | None = _text()
    codebook_version_id: int | None = Field(default=None, foreign_key="codebookversion.id")
    created_at: datetime = _created()
    updated_at: datetime = _created()


class RedFlagList(SQLModel, table=True):
    """A version of the red-flag list (data/redflags/v*.toml), with the source of each entry."""

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(index=True, unique=True)
    title: str | None = None
    entries: list = Field(sa_column=Column(JSON, nullable=False))  # [{id, name, terms, source, ...}]
    content_hash: str
    created_at: datetime = _created()


class CaseRedFlags(SQLModel, table=True):
    """Red flags of a case extracted by a model (an alternative to the red-flag list), quote-checked."""

    __table_args__ = (UniqueConstraint("case_id", "extractor"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    extractor: str  # "model:<study model name>"
    flags: list = Field(sa_column=Column(JSON, nullable=False))  # [{name, quote}], each quote in the vignette
    rejected: list | None = _json()  # what the model said that is not in the vignette
    content_hash: str  # of the vignette when extracted
    created_at: datetime = _created()


class ErrorSignal(SQLModel, table=True):
    """One automatic error signal of one response: whether it fired, and its quote-checked evidence."""

    __table_args__ = (UniqueConstraint("study_id", "response_id", "signal"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    response_id: int = Field(foreign_key="response.id", index=True)
    signal: str = Field(index=True)  # registered signal name, e.g. "gold_dropped"
    error_mode: str  # the codebook error mode it is evidence for
    version: str  # signal version: a changed rule recomputes
    fired: bool | None = None  # None: cannot tell (no trace, grade pending, ...)
    score: float | None = None
    steps: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # 1-based step numbers
    evidence: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # [{step, source, quote, why}]
    summary: str | None = _text()  # one line saying why
    details: dict | None = _json()
    input_hash: str  # of everything the signal read: unchanged input is not recomputed
    created_at: datetime = _created()
