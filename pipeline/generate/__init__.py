"""Generation: run models on case sets and record their reasoning traces.

Public face of the package; the parts live in small private modules:
backends (`@backend("openai")`, `@backend("llamacpp")`, `@backend("import")`),
prompt templates, the study file, response import, parsing and the runner.
"""

from __future__ import annotations

from pipeline.generate._backend import (
    Backend,
    BackendConfig,
    BackendError,
    Completion,
    Sampling,
    backend,
    backend_names,
    get_backend,
)
from pipeline.generate._import import (
    RESPONSE_FIELDS,
    ModelInfo,
    ResponseImportReport,
    ResponseMapping,
    import_responses,
    load_response_mapping,
    parse_response_mapping,
    resolve_response_source,
    shipped_response_sets,
)
from pipeline.generate._interop import format_names as response_format_names
from pipeline.generate._parse import (
    ParsedAnswer,
    clean_text,
    normalise_option,
    parse_answer,
    parse_choice,
    parse_diagnoses,
    split_reasoning,
)
from pipeline.generate._prompts import PromptTemplate, load_template, messages_text, shipped_templates
from pipeline.generate._record import ParsedOutput, ensure_case_set, parse_output
from pipeline.generate._runner import GenerationSummary, ModelRunSummary, generate, select_cases
from pipeline.generate._study import (
    ImportSpec,
    ModelSpec,
    StudySpec,
    ensure_study,
    load_study_file,
    parse_study,
    resolve_study_path,
    study_spec,
)

__all__ = [
    "RESPONSE_FIELDS",
    "Backend",
    "BackendConfig",
    "BackendError",
    "Completion",
    "GenerationSummary",
    "ImportSpec",
    "ModelInfo",
    "ModelRunSummary",
    "ModelSpec",
    "ParsedAnswer",
    "ParsedOutput",
    "PromptTemplate",
    "ResponseImportReport",
    "ResponseMapping",
    "Sampling",
    "StudySpec",
    "backend",
    "backend_names",
    "clean_text",
    "ensure_case_set",
    "ensure_study",
    "generate",
    "get_backend",
    "import_responses",
    "response_format_names",
    "load_response_mapping",
    "load_study_file",
    "load_template",
    "messages_text",
    "normalise_option",
    "parse_answer",
    "parse_choice",
    "parse_diagnoses",
    "parse_output",
    "parse_response_mapping",
    "parse_study",
    "resolve_response_source",
    "resolve_study_path",
    "select_cases",
    "shipped_response_sets",
    "shipped_templates",
    "split_reasoning",
    "study_spec",
]
