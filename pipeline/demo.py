"""The main job on the embedded defaults: a whole study, end to end, on this machine.

Imports the shipped case sets and the shipped real responses into the demo study, runs the embedded
SmolLM2 on a sample of cases, grades, embeds and clusters the traces, creates a lead and an annotator
with fresh passwords, assigns the incorrect responses, and writes the report. Every step is idempotent:
running the demo again resumes and adds nothing twice.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from sqlalchemy.engine import Engine
from sqlmodel import select

from db.engine import session_scope
from db.models import Annotator, Study
from pipeline.cases import SHIPPED_CASES, import_cases, load_mapping, read_case_file, shipped_case_sets

DEMO_STUDY = "demo"
LEAD = "lead"
ANNOTATOR = "clinician1"


@dataclass
class DemoResult:
    study_id: int = 0
    report_html: Path | None = None
    credentials: dict[str, str] = field(default_factory=dict)  # only accounts created in this run
    credentials_file: Path | None = None
    assigned: int = 0


def import_shipped_case_sets(engine: Engine) -> list[str]:
    lines = []
    for name in shipped_case_sets():
        folder = SHIPPED_CASES / name
        mapping = load_mapping(folder / "mapping.toml")
        path = next(p for p in folder.iterdir() if p.suffix == ".jsonl")
        with session_scope(engine) as session:
            # The shipped sets are the demo's own: a newer DxTrace may ship them corrected, so update them.
            report = import_cases(
                session, read_case_file(path, mapping), name=name, mapping=mapping, source=str(path), update=True
            )
        lines.append(report.summary())
    return lines


def _new_account(session, username: str, role: str) -> str | None:
    """Create the account with a random password; None if it already exists (its password is kept)."""
    from pipeline.annotation import create_annotator, get_annotator

    if get_annotator(session, username) is not None:
        return None
    password = secrets.token_urlsafe(12)
    create_annotator(session, username, password, role, display_name=f"Demo {role}")
    return password


def read_credentials(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        user, sep, password = line.partition("\t")
        if sep:
            out[user] = password
    return out


def write_credentials(path: Path, credentials: dict[str, str], still_current=None) -> None:
    """The demo accounts' current passwords, readable by the owner alone (0600 even if the file existed).

    Lines of an earlier run are kept only while `still_current(user, password)` says so; the file is
    replaced at once, never appended to.
    """
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    kept = {u: p for u, p in read_credentials(path).items() if still_current and still_current(u, p)}
    lines = [f"{user}\t{password}\n" for user, password in {**kept, **credentials}.items()]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_demo(
    engine: Engine,
    out_dir: Path,
    *,
    sample: int | None = None,
    console: Console | None = None,
    progress: bool = True,
) -> DemoResult:
    from pipeline.accuracy import grade_study, incorrect_response_ids, study_accuracy_by_case_set
    from pipeline.accuracy._report import OVERALL
    from pipeline.annotation import assign, ensure_codebook
    from pipeline.cluster import cluster_study, embed_responses, latest_clustering
    from pipeline.generate import ensure_study, generate, load_study_file
    from pipeline.report import write_report

    console = console or Console(stderr=True, highlight=False)
    result = DemoResult()
    steps = iter(range(1, 9))

    def step(title: str) -> None:
        console.rule(f"[bold]{next(steps)}/8 {title}")

    step("case sets")
    for line in import_shipped_case_sets(engine):
        console.print(line)

    step("demo study and the shipped real responses")
    spec = load_study_file(DEMO_STUDY)
    with session_scope(engine) as session:
        study = ensure_study(session, spec)
        codebook = ensure_codebook(session, "1")
        study.codebook_version_id = study.codebook_version_id or codebook.id
        result.study_id = study.id
    console.print(f"study {DEMO_STUDY!r} (id {result.study_id})")

    step("the embedded model on a sample of cases")
    generated = generate(engine, DEMO_STUDY, limit=sample, progress=progress, console=console)
    for row in generated.rows():
        console.print(f"{row[0]}: {row[2]} responses ({row[3]} new, {row[4]} failed), {row[6] or '-'} tokens/s")

    step("grading")
    with session_scope(engine) as session:
        console.print(grade_study(session, result.study_id).summary())
        for case_set, report in study_accuracy_by_case_set(session, result.study_id).items():
            for row in report.models:
                if row.subgroup == OVERALL:
                    console.print(f"{case_set}: {row.model}: {row.accuracy.format()} correct")

    step("embedding the traces")
    with session_scope(engine) as session:
        embedded = embed_responses(session, result.study_id, progress=progress)
        console.print(embedded.summary())

    step("clustering")
    with session_scope(engine) as session:
        clustering = latest_clustering(session, result.study_id)
        if clustering is None or embedded.n_embedded:  # a rerun with nothing new keeps the clustering it has
            clustering = cluster_study(session, result.study_id)
        console.print(f"{clustering.n_clusters} clusters by {clustering.method}")

    step("accounts and assignments")
    with session_scope(engine) as session:
        for username, role in ((LEAD, "lead"), (ANNOTATOR, "annotator")):
            password = _new_account(session, username, role)
            if password:
                result.credentials[username] = password
        annotator_id = session.exec(select(Annotator.id).where(Annotator.username == ANNOTATOR)).one()
        todo = incorrect_response_ids(session, result.study_id)
        if todo:
            console.print(
                assign(session, result.study_id, response_ids=todo, annotator_ids=[annotator_id], per_item=1).summary()
            )
        result.assigned = len(todo)
    creds_file = out_dir / "credentials.txt"
    if result.credentials or creds_file.exists():
        from pipeline.annotation import verify_password

        def still_current(user: str, password: str) -> bool:
            with session_scope(engine) as session:
                return verify_password(session, user, password)

        write_credentials(creds_file, result.credentials, still_current)
        result.credentials_file = creds_file

    step("report")
    with session_scope(engine) as session:
        result.report_html, _, _ = write_report(session, result.study_id, out_dir)
    console.print(f"report: {result.report_html}")
    return result


def demo_study_exists(engine: Engine) -> bool:
    with session_scope(engine) as session:
        return session.exec(select(Study).where(Study.name == DEMO_STUDY)).first() is not None
