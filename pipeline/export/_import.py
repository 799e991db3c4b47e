"""Importing an export into a database: validated first, then written in the caller's transaction.

Nothing is written unless the whole export is valid (schema, checksums, references, and
agreement with what the database already holds), so an import is all or nothing.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from pydantic_core import PydanticUndefined
from sqlalchemy import insert, tuple_
from sqlalchemy.sql.compiler import InsertmanyvaluesSentinelOpts
from sqlmodel import Session, select

from db.engine import json_loads
from db.models import (
    Annotation,
    AnnotationEvent,
    Annotator,
    Assignment,
    Case,
    CaseSet,
    CodebookVersion,
    ErrorSignal,
    FinalLabel,
    Grade,
    Model,
    Response,
    Run,
    Study,
)
from pipeline.errors import DxTraceError, InputError, Problem
from pipeline.export._format import (
    CODEBOOK_KEYS,
    FORMAT,
    FORMAT_VERSION,
    ID_KEYS,
    MANIFEST_FILE,
    NAME_KEYS,
    RECORDS_FILE,
    manifest_schema,
    natural_key,
    parse_ts,
    record_schema,
)

# An imported account cannot sign in until a lead sets a password (`python -m pipeline users passwd`).
NO_PASSWORD = "!imported-no-password"
_MAX_PROBLEMS = 50


@dataclass
class ImportSummary:
    study: str
    source: Path
    responses: int = 0
    annotations: int = 0
    final_labels: int = 0
    grades: int = 0
    annotators_created: list[str] = field(default_factory=list)
    annotators_reused: list[str] = field(default_factory=list)
    case_sets_created: list[str] = field(default_factory=list)
    cases_added: int = 0

    def summary(self) -> str:
        people = f"{len(self.annotators_created)} annotator account(s) created (inactive, no password)"
        if self.annotators_reused:
            people += f", {len(self.annotators_reused)} existing reused"
        return (
            f"imported study {self.study!r} from {self.source}: {self.responses} responses, {self.grades} grades, "
            f"{self.annotations} annotations, {self.final_labels} final labels, {self.cases_added} cases added; "
            + people
        )


def _field_path(path: deque) -> str | None:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _schema_problems(validator: Draft202012Validator, doc: object, file: str, line: int | None) -> list[Problem]:
    problems = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        # oneOf failures say little; the best sub-error names the field that is wrong.
        best = min(err.context, key=lambda e: len(e.absolute_path), default=None) if err.context else None
        where = err if best is None else best
        problems.append(Problem(file, line, _field_path(where.absolute_path), where.message))
    return problems


def _resolve(path: Path) -> tuple[Path, Path, tempfile.TemporaryDirectory | None]:
    """(manifest, records) files of an export folder, zip, study.json or responses.jsonl."""
    if not path.exists():
        raise InputError(Problem(str(path), None, None, "no such file or folder"))
    tmp = None
    if path.is_file() and zipfile.is_zipfile(path):
        tmp = tempfile.TemporaryDirectory(prefix="dxtrace-import-")
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            manifest = next((n for n in names if Path(n).name == MANIFEST_FILE), None)
            if manifest is None:
                tmp.cleanup()
                raise InputError(Problem(str(path), None, None, f"zip holds no {MANIFEST_FILE}: not a DxTrace export"))
            prefix = manifest[: -len(MANIFEST_FILE)]
            for name in (manifest, prefix + RECORDS_FILE):
                if name in names:
                    zf.extract(name, tmp.name)
        folder = Path(tmp.name) / prefix
    elif path.is_dir():
        folder = path
    else:
        folder = path.parent
    manifest_path, records_path = folder / MANIFEST_FILE, folder / RECORDS_FILE
    for needed in (manifest_path, records_path):
        if not needed.exists():
            if tmp:
                tmp.cleanup()
            raise InputError(
                Problem(str(needed), None, None, "missing: an export folder holds study.json and responses.jsonl")
            )
    return manifest_path, records_path, tmp


@dataclass
class _Parsed:
    """A validated export: its manifest and what the write pass needs besides the records themselves
    (which are read again, line by line, so a 100,000-response export is never held in memory)."""

    manifest: dict
    n_records: int
    cases: dict[tuple[str, str], tuple[int, dict]]  # (case set, case key) -> (first line, case)
    runs: dict[tuple[str, str, int], tuple[int, dict]]  # (model, case set, ordinal) -> (first line, run)


@cache
def _fast_record_check():
    """A compiled validator of the record schema: a quick yes for the (usual) valid record.

    jsonschema stays the judge: a record this one refuses is checked again by jsonschema, whose
    messages name the field, and is refused only if jsonschema finds a problem too. The schema uses
    only keywords draft 7 shares with 2020-12, so compiling it as draft 7 keeps their meaning.
    """
    import fastjsonschema

    schema = record_schema()
    fast = _merged_nullables(schema, schema.get("$defs", {}))
    return fastjsonschema.compile({**fast, "$schema": "http://json-schema.org/draft-07/schema#"})


_NULL = {"type": "null"}


def _merged_nullables(node, defs: dict):
    """The schema with each `oneOf: [null, $ref to a one-type schema]` written as that schema with "null" added
    to its type: the same records pass (a string's or an object's keywords do not apply to null), and the
    compiled check no longer raises and catches an exception per alternative (470,000 at 100,000 records)."""
    if isinstance(node, list):
        return [_merged_nullables(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    choices = node.get("oneOf")
    if isinstance(choices, list) and len(choices) == 2 and _NULL in choices and len(node) <= 2:
        other = choices[1 - choices.index(_NULL)]
        target = defs.get(str(other.get("$ref", "")).removeprefix("#/$defs/"))
        if set(other) == {"$ref"} and isinstance(target, dict) and target.get("type") in ("string", "object"):
            rest = {k: v for k, v in node.items() if k != "oneOf"}
            return {**_merged_nullables(target, defs), **rest, "type": [target["type"], "null"]}
    return {key: _merged_nullables(value, defs) for key, value in node.items()}


def _record_problems(validator: Draft202012Validator, record: object, file: str, line: int) -> list[Problem]:
    from fastjsonschema import JsonSchemaException

    try:
        _fast_record_check()(record)
        return []
    except JsonSchemaException:
        return _schema_problems(validator, record, file, line)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_export(path: Path | str) -> _Parsed:
    """Parse and validate an export without touching any database; InputError lists every problem."""
    path = Path(path)
    manifest_path, records_path, tmp = _resolve(path)
    try:
        return _read(path, manifest_path, records_path)
    finally:
        if tmp:
            tmp.cleanup()


def _shown(source: Path, path: Path) -> str:
    """The file name a problem names: inside a zip, the zip's path and the member's name."""
    return str(source / path.name) if source.is_file() and zipfile.is_zipfile(source) else str(path)


def _read(source: Path, manifest_path: Path, records_path: Path) -> _Parsed:
    mfile, rfile = _shown(source, manifest_path), _shown(source, records_path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(Problem(mfile, None, None, f"not UTF-8 text: {exc}")) from None
    except json.JSONDecodeError as exc:
        raise InputError(Problem(mfile, exc.lineno, None, f"not valid JSON: {exc.msg}")) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(Problem(mfile, None, "format", f"not a DxTrace export (expected format {FORMAT!r})"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(
            Problem(
                mfile,
                None,
                "format_version",
                f"format version {manifest.get('format_version')!r} is not supported (this DxTrace reads {FORMAT_VERSION})",
            )
        )
    problems = _schema_problems(
        Draft202012Validator(manifest_schema(), format_checker=FormatChecker()), manifest, mfile, None
    )
    if problems:
        raise InputError(problems)

    expected = manifest["files"].get(RECORDS_FILE, {}).get("sha256")
    if expected:
        actual = _file_sha256(records_path)
        if actual != expected:
            raise InputError(
                Problem(
                    rfile,
                    None,
                    None,
                    f"file changed since export (SHA-256 {actual[:12]}..., study.json says {expected[:12]}...)",
                )
            )

    validator = Draft202012Validator(record_schema(), format_checker=FormatChecker())
    models = {m["name"] for m in manifest["models"]}
    sets = {c["name"] for c in manifest["case_sets"]}
    codebooks = {c["version"] for c in manifest["codebooks"]}
    people = {a["ref"] for a in manifest["annotators"]}
    study_name = manifest["study"]["name"]
    problems = []
    n_records = 0
    seen: dict[str, int] = {}
    cases: dict[tuple[str, str], tuple[int, dict]] = {}
    runs: dict[tuple[str, str, int], tuple[int, dict]] = {}

    def check_ref(line: int, where: str, ref: str | None, known: set[str], what: str) -> None:
        if ref is not None and ref not in known:
            problems.append(Problem(rfile, line, where, f"{what} {ref!r} is not listed in study.json"))

    with records_path.open("rb") as fh:
        for line, raw in enumerate(fh, 1):
            if len(problems) >= _MAX_PROBLEMS:
                break
            if not raw.strip():
                continue
            try:
                record = json_loads(raw.decode("utf-8"))  # orjson; the json module words what it refuses
            except UnicodeDecodeError as exc:
                problems.append(Problem(rfile, line, None, f"not UTF-8 text: {exc}"))
                continue
            except json.JSONDecodeError as exc:
                problems.append(Problem(rfile, line, None, f"not valid JSON: {exc.msg} (column {exc.colno})"))
                continue
            found = _record_problems(validator, record, rfile, line)
            if found:
                problems.extend(found)
                continue
            key = record["key"]
            if key in seen:
                problems.append(Problem(rfile, line, "key", f"duplicate key {key!r} (first on line {seen[key]})"))
                continue
            seen[key] = line
            if record["study"] != study_name:
                problems.append(
                    Problem(rfile, line, "study", f"{record['study']!r} but study.json is for {study_name!r}")
                )
            check_ref(line, "model.name", record["model"]["name"], models, "model")
            check_ref(line, "case.case_set", record["case"]["case_set"], sets, "case set")
            check_ref(line, "codebook_version", record["codebook_version"], codebooks, "codebook version")
            for i, g in enumerate(record["grades"]):
                check_ref(line, f"grades[{i}].annotator", g.get("annotator"), people, "annotator")
            for i, a in enumerate(record["annotations"]):
                check_ref(line, f"annotations[{i}].annotator", a["annotator"], people, "annotator")
                check_ref(
                    line, f"annotations[{i}].codebook_version", a["codebook_version"], codebooks, "codebook version"
                )
                for j, ev in enumerate(a.get("events", [])):
                    check_ref(line, f"annotations[{i}].events[{j}].annotator", ev["annotator"], people, "annotator")
            for i, a in enumerate(record["assignments"]):
                check_ref(line, f"assignments[{i}].annotator", a["annotator"], people, "annotator")
            final = record["final_label"]
            if final:
                check_ref(line, "final_label.adjudicator", final.get("adjudicator"), people, "annotator")
                check_ref(
                    line, "final_label.codebook_version", final.get("codebook_version"), codebooks, "codebook version"
                )
            case = record["case"]
            ck = (case["case_set"], case["case_key"])
            if ck in cases and cases[ck][1] != case:
                problems.append(
                    Problem(rfile, line, "case", f"case {ck[1]!r} differs from the same case on line {cases[ck][0]}")
                )
            cases.setdefault(ck, (line, case))
            rk = (record["model"]["name"], case["case_set"], record["run"]["ordinal"])
            if rk in runs and runs[rk][1] != record["run"]:
                problems.append(Problem(rfile, line, "run", f"run differs from the same run on line {runs[rk][0]}"))
            runs.setdefault(rk, (line, record["run"]))
            n_records += 1
    if problems:
        raise InputError(problems)
    count = manifest["files"].get(RECORDS_FILE, {}).get("rows")
    if count is not None and count != n_records:
        raise InputError(
            Problem(rfile, None, None, f"{n_records} records but study.json says {count}: file is truncated")
        )
    return _Parsed(manifest, n_records, cases, runs)


def _unscrub(value, ids: dict[str, int], names: dict[str, str], codebooks: dict[str, int]):
    """Refs and codebook versions inside an audit dict back to this database's ids and usernames."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ID_KEYS and isinstance(v, str) and v in ids:
                out[k] = ids[v]
            elif k in NAME_KEYS and isinstance(v, str) and v in names:
                out[k] = names[v]
            elif k in CODEBOOK_KEYS and isinstance(v, str) and v in codebooks:
                out[k] = codebooks[v]
            else:
                out[k] = _unscrub(v, ids, names, codebooks)
        return out
    if isinstance(value, list):
        return [_unscrub(v, ids, names, codebooks) for v in value]
    return value


def import_export(
    session: Session, path: Path | str, *, study_name: str | None = None, chunk: int | None = None
) -> ImportSummary:
    """Add the study of an export to the database in the caller's transaction.

    The study must not exist yet (pass study_name to import under another name). Case sets,
    cases and codebook versions already in the database are reused when identical, and an
    error when they differ. Annotator refs become accounts that cannot sign in.
    """
    path = Path(path)
    manifest_path, records_path, tmp = _resolve(path)
    try:
        parsed = _read(path, manifest_path, records_path)
        return _import(session, path, parsed, records_path, study_name, chunk or IMPORT_CHUNK)
    finally:
        if tmp:
            tmp.cleanup()


def _import(
    session: Session, path: Path, parsed: _Parsed, records_path: Path, study_name: str | None, chunk: int
) -> ImportSummary:
    manifest = parsed.manifest
    mfile = str(path / MANIFEST_FILE) if path.is_dir() else str(path)
    name = study_name or manifest["study"]["name"]
    if session.exec(select(Study).where(Study.name == name)).first():
        raise DxTraceError(
            f"a study named {name!r} is already in this database; import under another name with --as NAME"
        )
    summary = ImportSummary(study=name, source=path)
    problems: list[Problem] = []

    # Codebooks: by version; an existing version must be the same codebook.
    codebook_ids: dict[str, int] = {}
    for i, book in enumerate(manifest["codebooks"]):
        row = session.exec(select(CodebookVersion).where(CodebookVersion.version == book["version"])).first()
        if row is not None and row.content_hash != book["content_hash"]:
            problems.append(
                Problem(
                    mfile,
                    None,
                    f"codebooks[{i}]",
                    f"codebook version {book['version']!r} in the database differs from the export's",
                )
            )
            continue
        if row is None:
            row = CodebookVersion(
                version=book["version"],
                title=book.get("title"),
                error_modes=book["error_modes"],
                content_hash=book["content_hash"],
            )
            if book.get("created_at"):
                row.created_at = parse_ts(book["created_at"])
            session.add(row)
            session.flush()
        codebook_ids[book["version"]] = row.id

    # Case sets and cases: reused when identical.
    set_ids: dict[str, int] = {}
    for entry in manifest["case_sets"]:
        row = session.exec(select(CaseSet).where(CaseSet.name == entry["name"])).first()
        if row is None:
            row = CaseSet(**{k: v for k, v in entry.items() if k != "created_at"})
            if entry.get("created_at"):
                row.created_at = parse_ts(entry["created_at"])
            session.add(row)
            session.flush()
            summary.case_sets_created.append(row.name)
        set_ids[row.name] = row.id
    case_ids: dict[tuple[str, str], int] = {}
    existing = {
        (c.case_set_id, c.case_key): c for c in session.exec(select(Case).where(Case.case_set_id.in_(set_ids.values())))
    }
    for ck, (line, case) in parsed.cases.items():
        row = existing.get((set_ids[ck[0]], ck[1]))
        if row is not None:
            if case.get("content_hash") and row.content_hash != case["content_hash"]:
                problems.append(
                    Problem(
                        str(path),
                        line,
                        "case",
                        f"case {ck[1]!r} of case set {ck[0]!r} differs from the one in the database",
                    )
                )
            case_ids[ck] = row.id
            continue
        row = Case(
            case_set_id=set_ids[ck[0]],
            case_key=case["case_key"],
            specialty=case.get("specialty"),
            incidence=case.get("incidence"),
            vignette=case["vignette"],
            gold_diagnosis=case["gold_diagnosis"],
            synonyms=case.get("synonyms"),
            task=case["task"],
            options=case.get("options"),
            attributes=case.get("attributes"),
            content_hash=case.get("content_hash") or "",
        )
        session.add(row)
        session.flush()
        case_ids[ck] = row.id
        summary.cases_added += 1
    if problems:
        raise InputError(problems)

    # Annotators: real usernames reuse an existing account; pseudonyms never merge with one.
    pseudonymised = manifest["pseudonymised"]
    annotator_ids: dict[str, int] = {}
    usernames: dict[str, str] = {}
    for entry in sorted(manifest["annotators"], key=lambda a: natural_key(a["ref"])):
        ref = entry["ref"]
        row = session.exec(select(Annotator).where(Annotator.username == ref)).first()
        if row is not None and not pseudonymised:
            summary.annotators_reused.append(ref)
        else:
            username, n = ref, 1
            while row is not None:
                n += 1
                username = f"{ref}@{name}" if n == 2 else f"{ref}@{name}-{n}"
                row = session.exec(select(Annotator).where(Annotator.username == username)).first()
            row = Annotator(
                username=username,
                display_name=entry.get("display_name"),
                role=entry["role"],
                password_hash=NO_PASSWORD,
                active=False,
            )
            session.add(row)
            session.flush()
            summary.annotators_created.append(username)
        annotator_ids[ref] = row.id
        usernames[ref] = row.username

    def person(ref: str | None) -> int | None:
        return None if ref is None else annotator_ids[ref]

    st = manifest["study"]
    study = Study(
        name=name,
        description=st.get("description"),
        blind_models=st.get("blind_models", True),
        blind_annotators=st.get("blind_annotators", True),
        show_suggestions=st.get("show_suggestions", False),
        significance_level=st.get("significance_level", 0.01),
        codebook_version_id=codebook_ids.get(st["codebook_version"]) if st.get("codebook_version") else None,
        settings=st.get("settings"),
    )
    if st.get("created_at"):
        study.created_at = parse_ts(st["created_at"])
    session.add(study)
    session.flush()

    model_ids: dict[str, int] = {}
    for entry in manifest["models"]:
        model = Model(
            study_id=study.id,
            name=entry["name"],
            backend=entry["backend"],
            model_id=entry.get("model_id"),
            base_url=entry.get("base_url"),
            params=entry.get("params"),
            is_reasoning=entry.get("is_reasoning", False),
        )
        if entry.get("created_at"):
            model.created_at = parse_ts(entry["created_at"])
        session.add(model)
        session.flush()
        model_ids[model.name] = model.id
    for entry in manifest["models"]:
        if entry.get("paired_model"):
            if entry["paired_model"] not in model_ids:
                raise InputError(
                    Problem(
                        mfile, None, "models.paired_model", f"{entry['paired_model']!r} is not a model of the export"
                    )
                )
            session.get(Model, model_ids[entry["name"]]).paired_model_id = model_ids[entry["paired_model"]]

    # Runs in ordinal order, so a re-export numbers them the same way.
    run_ids: dict[tuple[str, str, int], int] = {}
    for key in sorted(parsed.runs):
        spec = parsed.runs[key][1]
        run = Run(
            study_id=study.id,
            model_id=model_ids[key[0]],
            case_set_id=set_ids[key[1]],
            template_name=spec.get("template_name"),
            template_version=spec.get("template_version"),
            template_hash=spec.get("template_hash"),
            repeats=spec.get("repeats", 1),
            source=spec["source"],
            status=spec["status"],
            params=spec.get("params"),
            meta=spec.get("meta"),
            finished_at=parse_ts(spec.get("finished_at")),
        )
        if spec.get("started_at"):
            run.started_at = parse_ts(spec["started_at"])
        session.add(run)
        session.flush()
        run_ids[key] = run.id

    ids = _Ids(study.id, run_ids, case_ids, model_ids, annotator_ids, usernames, codebook_ids)
    rfile = _shown(path, records_path)
    batch: list[dict] = []
    with records_path.open("rb") as fh:
        for line, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                batch.append(json_loads(raw.decode("utf-8")))
            except ValueError as exc:  # changed since it was validated
                raise InputError(Problem(rfile, line, None, f"not valid JSON: {exc}")) from None
            if len(batch) >= chunk:
                _insert_chunk(session, batch, ids, summary)
                batch = []
    _insert_chunk(session, batch, ids, summary)
    if summary.responses != parsed.n_records:
        raise InputError(Problem(rfile, None, None, "file changed while it was imported"))
    return summary


IMPORT_CHUNK = 1_000  # records per bulk insert


@dataclass
class _Ids:
    """This database's ids for the names and refs of an export."""

    study: int
    runs: dict[tuple[str, str, int], int]
    cases: dict[tuple[str, str], int]
    models: dict[str, int]
    annotators: dict[str, int]
    usernames: dict[str, str]
    codebooks: dict[str, int]

    def person(self, ref: str | None) -> int | None:
        return None if ref is None else self.annotators[ref]


class _New(dict):
    """The given column values of a row to insert; `_row` adds the model's defaults for the others.

    Plain dicts, not table objects: building 100,000s of SQLModel objects was most of an import's time.
    """

    def __init__(self, model, **values) -> None:
        super().__init__(values)
        self.model = model


@cache
def _defaults(model) -> tuple[tuple[str, Callable[[], object]], ...]:
    """(column, default maker) of every column but the id, as the model's fields define them."""
    out = []
    for column in model.__table__.columns:
        if column.primary_key and column.key == "id":
            continue
        info = model.model_fields.get(column.key)
        if info is not None and info.default_factory is not None:
            out.append((column.key, info.default_factory))
        else:
            default = None if info is None or info.default is PydanticUndefined else info.default
            out.append((column.key, lambda d=default: d))
    return tuple(out)


def _row(obj: _New) -> dict:
    """A row's values for every column (defaults applied as the table object would), for a bulk insert."""
    return {key: obj[key] if key in obj else make() for key, make in _defaults(obj.model)}


# Each table whose new ids are needed, and the unique key its rows are found by again after the insert.
_KEYS = {Response: ("run_id", "case_id", "repeat"), Annotation: ("study_id", "response_id", "annotator_id")}
_KEY_BATCH = 500  # keys per lookup (3 parameters each: well within any database's limit)


def _ordered_returning(session: Session) -> bool:
    """Whether the database returns new ids in row order from batched INSERTs (PostgreSQL). SQLite cannot:
    SQLAlchemy then runs one INSERT per row, a quarter of an import's time at 100,000 responses."""
    opts = session.get_bind().dialect.insertmanyvalues_implicit_sentinel
    return bool(opts & InsertmanyvaluesSentinelOpts.ANY_AUTOINCREMENT)


def _insert(session: Session, model, rows: list[dict], *, ids: bool = False) -> list[int]:
    """One executemany INSERT (batched by SQLAlchemy's insertmanyvalues); with ids, the new ids in row order."""
    if not rows:
        return []
    table = model.__table__
    if ids and _ordered_returning(session):
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return [row[0] for row in session.execute(stmt, rows)]
    session.execute(insert(table), rows)
    return _ids_by_key(session, model, rows) if ids else []


def _ids_by_key(session: Session, model, rows: list[dict]) -> list[int]:
    """The ids of rows just inserted, read back by their unique key."""
    table = model.__table__
    columns = [table.c[name] for name in _KEYS[model]]
    keys = [tuple(row[name] for name in _KEYS[model]) for row in rows]
    found: dict[tuple, int] = {}
    for start in range(0, len(keys), _KEY_BATCH):
        stmt = select(table.c.id, *columns).where(tuple_(*columns).in_(keys[start : start + _KEY_BATCH]))
        found.update((tuple(r[1:]), r[0]) for r in session.execute(stmt))
    return [found[key] for key in keys]


def _stamped(obj: _New, entry: dict, stamps: tuple[str, ...]) -> _New:
    for stamp in stamps:
        if entry.get(stamp):
            obj[stamp] = parse_ts(entry[stamp])
    return obj


def _insert_chunk(session: Session, records: list[dict], ids: _Ids, summary: ImportSummary) -> None:
    """Responses first (their new ids), then everything that hangs on them, each table in one bulk insert."""
    if not records:
        return
    responses = []
    for record in records:
        case = record["case"]
        resp = _New(
            Response,
            run_id=ids.runs[(record["model"]["name"], case["case_set"], record["run"]["ordinal"])],
            case_id=ids.cases[(case["case_set"], case["case_key"])],
            model_id=ids.models[record["model"]["name"]],
            repeat=record["repeat"],
            prompt=record["prompt"],
            raw_output=record["raw_output"],
            trace=record["trace"],
            answer=record["answer"],
            diagnoses=record["diagnoses"],
            chosen_option=record.get("chosen_option"),
            parse_ok=record.get("parse_ok", True),
            parse_error=record.get("parse_error"),
            prompt_tokens=record.get("prompt_tokens"),
            completion_tokens=record.get("completion_tokens"),
            reasoning_tokens=record.get("reasoning_tokens"),
            latency_s=record.get("latency_s"),
            finish_reason=record.get("finish_reason"),
            error=record.get("error"),
            extra=record.get("extra"),
        )
        responses.append(_row(_stamped(resp, record, ("created_at",))))
    response_ids = _insert(session, Response, responses, ids=True)
    summary.responses += len(response_ids)

    grades, annotations, annotation_entries, assignments, finals, signals = [], [], [], [], [], []
    for record, response_id in zip(records, response_ids, strict=True):
        for g in record["grades"]:
            grade = _New(
                Grade,
                response_id=response_id,
                correct=g["correct"],
                rank=g.get("rank"),
                k=g.get("k", 5),
                method=g["method"],
                score=g.get("score"),
                matched_diagnosis=g.get("matched_diagnosis"),
                status=g["status"],
                grader=ids.usernames.get(g.get("grader"), g.get("grader") or "auto"),
                annotator_id=ids.person(g.get("annotator")),
                details=g.get("details"),
            )
            grades.append(_row(_stamped(grade, g, ("created_at",))))
        for a in record["annotations"]:
            ann = _New(
                Annotation,
                study_id=ids.study,
                response_id=response_id,
                annotator_id=ids.person(a["annotator"]),
                codebook_version_id=ids.codebooks[a["codebook_version"]],
                error_modes=a["error_modes"],
                evidence=a.get("evidence"),
                other_description=a.get("other_description"),
                first_error_step=a.get("first_error_step"),
                severity=a.get("severity"),
                confidence=a.get("confidence"),
                rationale=a.get("rationale"),
                flagged=a.get("flagged", False),
                suggestion_shown=a.get("suggestion_shown", False),
                suggestion=a.get("suggestion"),
                signals_shown=a.get("signals_shown"),
                signals=a.get("signals"),
                active_seconds=a.get("active_seconds"),
            )
            annotations.append(_row(_stamped(ann, a, ("created_at", "updated_at", "opened_at", "saved_at"))))
            annotation_entries.append(a)
        for a in record["assignments"]:
            row = _New(
                Assignment,
                study_id=ids.study,
                response_id=response_id,
                annotator_id=ids.person(a["annotator"]),
                position=a.get("position", 0),
                status=a["status"],
            )
            assignments.append(_row(_stamped(row, a, ("created_at", "updated_at"))))
        final = record["final_label"]
        if final:
            row = _New(
                FinalLabel,
                study_id=ids.study,
                response_id=response_id,
                error_modes=final["error_modes"],
                first_error_step=final.get("first_error_step"),
                method=final["method"],
                adjudicator_id=ids.person(final.get("adjudicator")),
                rationale=final.get("rationale"),
                codebook_version_id=ids.codebooks.get(final["codebook_version"])
                if final.get("codebook_version")
                else None,
            )
            finals.append(_row(_stamped(row, final, ("created_at", "updated_at"))))
        for sig in record.get("signals", []):
            # Kept as exported; "imported" never equals a computed input hash, so `signals` recomputes them.
            signals.append(
                _row(
                    _New(
                ErrorSignal,
                        study_id=ids.study, response_id=response_id, signal=sig["signal"],
                        error_mode=sig["error_mode"], version=sig.get("version", ""), fired=sig["fired"],
                        score=sig.get("score"), steps=sig["steps"], evidence=sig["evidence"],
                        summary=sig.get("summary"), input_hash="imported",
                    )
                )
            )  # fmt: skip
    annotation_ids = _insert(session, Annotation, annotations, ids=True)
    events = [
        _row(
            _New(
                AnnotationEvent,
                annotation_id=annotation_id,
                annotator_id=ids.person(ev["annotator"]),
                action=ev["action"],
                before=_unscrub(ev.get("before"), ids.annotators, ids.usernames, ids.codebooks),
                after=_unscrub(ev.get("after"), ids.annotators, ids.usernames, ids.codebooks),
                at=parse_ts(ev["at"]),
            )
        )
        for a, annotation_id in zip(annotation_entries, annotation_ids, strict=True)
        for ev in a.get("events", [])
    ]
    for model, rows in (
        (Grade, grades),
        (AnnotationEvent, events),
        (Assignment, assignments),
        (FinalLabel, finals),
        (ErrorSignal, signals),
    ):
        _insert(session, model, rows)
    summary.grades += len(grades)
    summary.annotations += len(annotations)
    summary.final_labels += len(finals)
