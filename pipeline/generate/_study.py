"""The study file (TOML): models, backends, sampling, pairs, case set, template, repeats, imports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from db.models import Model, Study
from pipeline.errors import DxTraceError, InputError, Problem
from pipeline.generate._backend import BackendConfig, Sampling, backend_names
from pipeline.generate._schema import SECTIONS, ImportEntry, ModelEntry, ModelSettings, StudySection, check
from pipeline.generate._toml import loads as toml_loads

STUDIES_DIR = Path(__file__).resolve().parents[2] / "data" / "studies"


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


def _model_spec(entry: ModelEntry) -> ModelSpec:
    stop = [entry.stop] if isinstance(entry.stop, str) else list(entry.stop or [])
    return ModelSpec(
        name=entry.name.strip(),
        backend=str(entry.backend),
        model=entry.model,
        base_url=entry.base_url,
        api_key_env=entry.api_key_env,
        reasoning=entry.reasoning,
        paired_with=entry.paired_with,
        sampling=Sampling(
            temperature=entry.temperature,
            top_p=entry.top_p,
            max_tokens=entry.max_tokens,
            seed=entry.seed,
            stop=tuple(stop),
            extra=dict(entry.extra),
        ),
        concurrency=entry.concurrency,
        timeout_s=float(entry.timeout) if entry.timeout is not None else 600.0,
        max_retries=entry.max_retries if entry.max_retries is not None else 5,
        options=dict(entry.options),
    )


def _check_model(merged: dict, where: str, filename: str, problems: list[Problem]) -> None:
    known_backends = backend_names()
    backend_name = merged.get("backend")
    if backend_name not in known_backends:
        got = "missing" if backend_name is None else f"{backend_name!r} is not one of {', '.join(known_backends)}"
        problems.append(Problem(filename, None, f"{where}.backend", got))
    if backend_name == "openai" and not merged.get("model"):
        problems.append(Problem(filename, None, f"{where}.model", "the served model id is required"))


def _check_pairs(pairs: dict[str, object], filename: str, problems: list[Problem]) -> None:
    """pairs: {model name: its paired_with as written}."""
    for name, partner in pairs.items():
        if partner is None:
            continue
        if partner == name:
            problems.append(Problem(filename, None, f"models ({name}).paired_with", "a model cannot pair with itself"))
        elif partner not in pairs:
            problems.append(
                Problem(filename, None, f"models ({name}).paired_with", f"no model named {partner!r} in this file")
            )


def _models(raw: dict, defaults: dict, filename: str, problems: list[Problem]) -> list[ModelSpec]:
    raw_models = raw.get("models")
    if not isinstance(raw_models, list) or not raw_models:
        problems.append(Problem(filename, None, "models", "add at least one [[models]] entry"))
        return []
    models: list[ModelSpec] = []
    pairs: dict[str, object] = {}
    for i, m in enumerate(raw_models, start=1):
        where = f"models[{i}]"
        if not isinstance(m, dict):
            problems.append(Problem(filename, None, where, "must be a table"))
            continue
        merged = {**defaults, **m}
        name = merged.get("name")
        if isinstance(name, str) and name.strip():
            where = f"models[{i}] ({name.strip()})"
            if name.strip() in pairs:
                problems.append(Problem(filename, None, f"{where}.name", "two models with this name"))
            pairs[name.strip()] = merged.get("paired_with")
        # Checked on the raw values too, so a file with several problems gets all of them named at once.
        _check_model(merged, where, filename, problems)
        entry = check(ModelEntry, merged, filename, where, problems)
        if entry is not None:
            models.append(_model_spec(entry))
    _check_pairs(pairs, filename, problems)
    return models


def _imports(raw: dict, filename: str, problems: list[Problem]) -> list[ImportSpec]:
    raw_imports = raw.get("imports", [])
    if not isinstance(raw_imports, list):
        problems.append(Problem(filename, None, "imports", "must be a list of [[imports]] tables"))
        return []
    out = []
    for i, imp in enumerate(raw_imports, start=1):
        entry = check(ImportEntry, imp, filename, f"imports[{i}]", problems)
        if entry is not None:
            out.append(ImportSpec(source=entry.source, mapping=entry.mapping, case_set=entry.case_set))
    return out


def parse_study(text: str, filename: str) -> StudySpec:
    """A StudySpec from TOML text, or an InputError naming every problem (file, field); nothing is written."""
    raw = toml_loads(text, filename)
    problems: list[Problem] = []
    for key in sorted(set(raw) - set(SECTIONS)):
        problems.append(Problem(filename, None, key, f"unknown section; known: {', '.join(SECTIONS)}"))
    if not isinstance(raw.get("study"), dict):
        problems.append(Problem(filename, None, "study", "missing [study] table"))
        raise InputError(problems)
    study = check(StudySection, raw["study"], filename, "study", problems)
    if study is not None and study.cases and study.sample:
        problems.append(Problem(filename, None, "study.sample", "give either cases or sample, not both"))
    defaults = raw.get("defaults", {})
    if check(ModelSettings, defaults, filename, "defaults", problems) is None or not isinstance(defaults, dict):
        defaults = {}
    models = _models(raw, defaults, filename, problems)
    imports = _imports(raw, filename, problems)
    grading = _grading(raw.get("grading"), filename, problems)
    if problems or study is None:
        raise InputError(problems)
    return StudySpec(
        name=study.name.strip(),
        description=study.description,
        case_set=study.case_set,
        template=study.template,
        repeats=study.repeats,
        cases=tuple(study.cases) if study.cases else None,
        sample=study.sample,
        sample_seed=study.sample_seed,
        k=study.k,
        where=dict(study.where),
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
    from pipeline.generate._record import cases_by_key, ensure_case_set
    from pipeline.generate._runner import select_cases

    load_template(spec.template)  # fail early on a wrong template name
    # A case set that does not exist, unknown case ids or a filter nothing matches: refused before any write.
    select_cases(list(cases_by_key(session, ensure_case_set(session, spec.case_set)).values()), spec)
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
