"""The study file (TOML): models, backends, sampling, pairs, case set, template, repeats, imports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from db.models import Model, Study
from pipeline.errors import DxTraceError, InputError, Problem
from pipeline.generate._backend import BackendConfig, Sampling, backend_names
from pipeline.generate._toml import loads as toml_loads

STUDIES_DIR = Path(__file__).resolve().parents[2] / "data" / "studies"
_SAMPLING_KEYS = ("temperature", "top_p", "max_tokens", "seed", "stop")
_MODEL_KEYS = {
    "name",
    "backend",
    "model",
    "base_url",
    "api_key_env",
    "reasoning",
    "paired_with",
    "concurrency",
    "timeout",
    "max_retries",
    "options",
    "extra",
    *_SAMPLING_KEYS,
}
_STUDY_KEYS = {"name", "description", "case_set", "template", "repeats", "cases", "sample", "sample_seed", "k", "where"}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    backend: str
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    reasoning: bool = False
    paired_with: str | None = None  # on a reasoning model: its base model's name
    sampling: Sampling = field(default_factory=Sampling)
    concurrency: int | None = None
    timeout_s: float = 600.0
    max_retries: int = 5
    options: dict[str, Any] = field(default_factory=dict)

    def backend_config(self) -> BackendConfig:
        return BackendConfig(
            name=self.name,
            model=self.model,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            options=dict(self.options),
        )


@dataclass(frozen=True)
class ImportSpec:
    source: str  # a response file, a folder with mapping.toml, or a shipped set name
    mapping: str | None = None
    case_set: str | None = None


@dataclass(frozen=True)
class StudySpec:
    name: str
    case_set: str
    template: str
    models: tuple[ModelSpec, ...]
    description: str | None = None
    repeats: int = 1
    cases: tuple[str, ...] | None = None  # explicit case keys, in this order
    sample: int | None = None  # else a seeded random sample of this many cases
    sample_seed: int = 0
    k: int = 5
    where: dict[str, Any] = field(
        default_factory=dict
    )  # case filter: {"cohort": "original_110", "incidence": ["Rare"]}
    imports: tuple[ImportSpec, ...] = ()
    path: str | None = None
    grading: dict[str, Any] = field(default_factory=dict)  # [grading] (e.g. grading.judge), read by pipeline.accuracy

    def to_settings(self) -> dict[str, Any]:
        """JSON form stored in Study.settings["spec"], from which the study is rebuilt later."""
        data = asdict(self)
        data["models"] = [{**asdict(m), "sampling": m.sampling.to_dict()} for m in self.models]
        return data

    @classmethod
    def from_settings(cls, data: dict[str, Any]) -> StudySpec:
        models = []
        for m in data["models"]:
            s = m.get("sampling") or {}
            sampling = Sampling(
                temperature=s.get("temperature"),
                top_p=s.get("top_p"),
                max_tokens=s.get("max_tokens"),
                seed=s.get("seed"),
                stop=tuple(s.get("stop") or ()),
                extra=dict(s.get("extra") or {}),
            )
            models.append(ModelSpec(**{**m, "sampling": sampling}))
        return cls(
            **{
                **data,
                "models": tuple(models),
                "cases": tuple(data["cases"]) if data.get("cases") else None,
                "imports": tuple(ImportSpec(**i) for i in data.get("imports") or ()),
            }
        )

    def generated_models(self) -> list[ModelSpec]:
        return [m for m in self.models if m.backend != "import"]


def _num(raw: dict, key: str, where: str, problems: list[Problem], filename: str, *, integer: bool = False) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok:
        kind = "a whole number" if integer else "a number"
        problems.append(Problem(filename, None, f"{where}.{key}", f"must be {kind}, got {value!r}"))
        return None
    return value


def parse_study(text: str, filename: str) -> StudySpec:
    """A StudySpec from TOML text, or an InputError naming every problem (file, field)."""
    raw = toml_loads(text, filename)
    problems: list[Problem] = []
    study = raw.get("study")
    if not isinstance(study, dict):
        raise InputError(Problem(filename, None, "study", "missing [study] table"))
    for key in sorted(set(study) - _STUDY_KEYS):
        problems.append(
            Problem(filename, None, f"study.{key}", f"unknown key; known: {', '.join(sorted(_STUDY_KEYS))}")
        )
    for key in ("name", "case_set", "template"):
        if not isinstance(study.get(key), str) or not study[key].strip():
            problems.append(Problem(filename, None, f"study.{key}", "missing or empty"))
    repeats = _num(study, "repeats", "study", problems, filename, integer=True)
    repeats = 1 if repeats is None else repeats
    if repeats < 1:
        problems.append(Problem(filename, None, "study.repeats", "must be at least 1"))
    sample = _num(study, "sample", "study", problems, filename, integer=True)
    if sample is not None and sample < 1:
        problems.append(Problem(filename, None, "study.sample", "must be at least 1"))
    cases = study.get("cases")
    if cases is not None and not (isinstance(cases, list) and cases and all(isinstance(c, str) for c in cases)):
        problems.append(Problem(filename, None, "study.cases", "must be a non-empty list of case ids"))
        cases = None
    if cases and sample:
        problems.append(Problem(filename, None, "study.sample", "give either cases or sample, not both"))
    case_filter = study.get("where", {})
    if not isinstance(case_filter, dict) or not all(isinstance(v, str | list) for v in case_filter.values()):
        problems.append(Problem(filename, None, "study.where", 'must be a table of field = "value" or ["values"]'))
        case_filter = {}
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.append(Problem(filename, None, "defaults", "must be a table"))
        defaults = {}

    models: list[ModelSpec] = []
    raw_models = raw.get("models", [])
    if not isinstance(raw_models, list) or not raw_models:
        problems.append(Problem(filename, None, "models", "add at least one [[models]] entry"))
        raw_models = []
    known_backends = backend_names()
    names: set[str] = set()
    for i, m in enumerate(raw_models, start=1):
        where = f"models[{i}]"
        if not isinstance(m, dict):
            problems.append(Problem(filename, None, where, "must be a table"))
            continue
        merged = {**defaults, **m}
        for key in sorted(set(merged) - _MODEL_KEYS):
            problems.append(Problem(filename, None, f"{where}.{key}", "unknown key"))
        name = merged.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(Problem(filename, None, f"{where}.name", "missing or empty"))
            continue
        where = f"models[{i}] ({name})"
        if name in names:
            problems.append(Problem(filename, None, f"{where}.name", "two models with this name"))
        names.add(name)
        backend_name = merged.get("backend")
        if backend_name not in known_backends:
            problems.append(
                Problem(
                    filename, None, f"{where}.backend", f"{backend_name!r} is not one of {', '.join(known_backends)}"
                )
            )
        if backend_name == "openai" and not merged.get("model"):
            problems.append(Problem(filename, None, f"{where}.model", "the served model id is required"))
        temperature = _num(merged, "temperature", where, problems, filename)
        top_p = _num(merged, "top_p", where, problems, filename)
        max_tokens = _num(merged, "max_tokens", where, problems, filename, integer=True)
        seed = _num(merged, "seed", where, problems, filename, integer=True)
        concurrency = _num(merged, "concurrency", where, problems, filename, integer=True)
        timeout = _num(merged, "timeout", where, problems, filename)
        retries = _num(merged, "max_retries", where, problems, filename, integer=True)
        if temperature is not None and not 0 <= temperature <= 2:
            problems.append(Problem(filename, None, f"{where}.temperature", "must be between 0 and 2"))
        if top_p is not None and not 0 < top_p <= 1:
            problems.append(Problem(filename, None, f"{where}.top_p", "must be in (0, 1]"))
        if max_tokens is not None and max_tokens < 1:
            problems.append(Problem(filename, None, f"{where}.max_tokens", "must be at least 1"))
        if concurrency is not None and concurrency < 1:
            problems.append(Problem(filename, None, f"{where}.concurrency", "must be at least 1"))
        stop = merged.get("stop") or []
        if isinstance(stop, str):
            stop = [stop]
        for key in ("options", "extra"):
            if not isinstance(merged.get(key, {}), dict):
                problems.append(Problem(filename, None, f"{where}.{key}", "must be a table"))
                merged[key] = {}
        models.append(
            ModelSpec(
                name=name,
                backend=str(backend_name),
                model=merged.get("model"),
                base_url=merged.get("base_url"),
                api_key_env=merged.get("api_key_env"),
                reasoning=bool(merged.get("reasoning", False)),
                paired_with=merged.get("paired_with"),
                sampling=Sampling(
                    temperature=temperature,
                    top_p=top_p,
                    max_tokens=max_tokens,
                    seed=seed,
                    stop=tuple(str(s) for s in stop),
                    extra=dict(merged.get("extra") or {}),
                ),
                concurrency=concurrency,
                timeout_s=float(timeout) if timeout is not None else 600.0,
                max_retries=retries if retries is not None else 5,
                options=dict(merged.get("options") or {}),
            )
        )
    for m in models:
        if m.paired_with and m.paired_with not in names:
            problems.append(
                Problem(
                    filename, None, f"models ({m.name}).paired_with", f"no model named {m.paired_with!r} in this file"
                )
            )
        if m.paired_with == m.name:
            problems.append(
                Problem(filename, None, f"models ({m.name}).paired_with", "a model cannot pair with itself")
            )

    imports: list[ImportSpec] = []
    for i, imp in enumerate(raw.get("imports", []) or [], start=1):
        if not isinstance(imp, dict) or not isinstance(imp.get("source"), str):
            problems.append(
                Problem(filename, None, f"imports[{i}].source", "missing: a response file, folder or shipped set")
            )
            continue
        imports.append(ImportSpec(source=imp["source"], mapping=imp.get("mapping"), case_set=imp.get("case_set")))
    grading = _grading(raw.get("grading"), filename, problems)
    if problems:
        raise InputError(problems)
    return StudySpec(
        name=study["name"].strip(),
        description=study.get("description"),
        case_set=study["case_set"],
        template=study["template"],
        repeats=repeats,
        cases=tuple(cases) if cases else None,
        sample=sample,
        sample_seed=int(study.get("sample_seed", 0)),
        k=int(study.get("k", 5)),
        where=dict(case_filter),
        models=tuple(models),
        imports=tuple(imports),
        path=filename,
        grading=grading,
    )


def _grading(raw: Any, filename: str, problems: list[Problem]) -> dict[str, Any]:
    """The [grading] table: only grading.judge so far, validated by the accuracy module's JudgeConfig."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(Problem(filename, None, "grading", "must be a table"))
        return {}
    problems.extend(
        Problem(filename, None, f"grading.{k}", "unknown key; known: judge") for k in sorted(set(raw) - {"judge"})
    )
    if "judge" in raw:
        from pipeline.accuracy._judge import JudgeConfig

        try:
            JudgeConfig.parse(raw["judge"], filename)
        except InputError as exc:
            problems.extend(exc.problems)
    return dict(raw)


def resolve_study_path(ref: str | Path) -> Path | None:
    """A study file from a path or a shipped study's name ("demo", "published"); None if neither."""
    path = Path(ref)
    if path.suffix == ".toml" and path.is_file():
        return path
    shipped = STUDIES_DIR / f"{ref}.toml"
    return shipped if shipped.is_file() else None


def load_study_file(path: str | Path) -> StudySpec:
    """Read and validate a study file (a path, or a shipped study's name)."""
    resolved = resolve_study_path(path)
    if resolved is None:
        shipped = ", ".join(sorted(p.stem for p in STUDIES_DIR.glob("*.toml")))
        raise InputError(Problem(str(path), None, None, f"no such study file (shipped: {shipped})"))
    try:
        text = resolved.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(resolved), None, None, f"cannot read: {exc}")) from None
    return parse_study(text, str(resolved))


def _resolve_relative(source: str | None, spec: StudySpec) -> str | None:
    """Paths in a study file are relative to the file's folder."""
    if source is None or spec.path is None:
        return source
    candidate = Path(spec.path).parent / source
    return str(candidate) if candidate.exists() else source


def ensure_study(session: Session, spec: StudySpec, *, imports: bool = True) -> Study:
    """The study's rows (Study, a Model per entry, pairs), created or brought up to date; then its imports."""
    from pipeline.generate._import import import_responses, load_response_mapping, resolve_response_source
    from pipeline.generate._prompts import load_template

    load_template(spec.template)  # fail early on a wrong template name
    study = session.exec(select(Study).where(Study.name == spec.name)).first()
    settings = {"spec": spec.to_settings()}
    if study is None:
        study = Study(name=spec.name, description=spec.description, settings=settings)
        session.add(study)
    else:
        study.description = spec.description or study.description
        study.settings = {**(study.settings or {}), **settings}
    session.flush()
    rows: dict[str, Model] = {}
    for m in spec.models:
        model = session.exec(select(Model).where(Model.study_id == study.id, Model.name == m.name)).first()
        if model is None:
            model = Model(study_id=study.id, name=m.name, backend=m.backend)
        model.backend = m.backend
        model.model_id = m.model
        model.base_url = m.base_url
        model.params = m.sampling.to_dict()
        model.is_reasoning = m.reasoning
        session.add(model)
        session.flush()
        rows[m.name] = model
    for m in spec.models:
        if m.paired_with:
            rows[m.name].paired_model_id = rows[m.paired_with].id
            session.add(rows[m.name])
    session.flush()
    if imports:
        for imp in spec.imports:
            path, shipped_mapping = resolve_response_source(_resolve_relative(imp.source, spec) or imp.source)
            mapping_path = Path(_resolve_relative(imp.mapping, spec)) if imp.mapping else shipped_mapping
            if mapping_path is None:
                raise DxTraceError(f"{spec.path}: imports source {imp.source!r} has no mapping.toml; set `mapping`")
            import_responses(
                session,
                study=study,
                path=path,
                mapping=load_response_mapping(mapping_path),
                case_set=imp.case_set,
                k=spec.k,
            )
    return study


def study_spec(session: Session, name: str) -> StudySpec:
    """The spec a study in the database was made from."""
    study = session.exec(select(Study).where(Study.name == name)).first()
    if study is None or not (study.settings or {}).get("spec"):
        raise DxTraceError(
            f"no study {name!r} made from a study file; create it with: python -m pipeline study <file.toml>"
        )
    return StudySpec.from_settings(study.settings["spec"])
