"""Study data for tests, built from the shipped real data through the ORM.

For tests whose subject is downstream of generation (grading, clustering,
agreement, exports): they need real responses in the database, not the
generation pipeline itself.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, select

from db.models import Case, CaseSet, Grade, Model, Response, Run, Study
from pipeline.cases import SHIPPED_CASES, CaseMapping, import_cases, load_mapping, read_case_file

DATA = SHIPPED_CASES.parent
MEDRBENCH_R1 = DATA / "responses" / "medrbench" / "deepseek-r1.jsonl"
SANDMANN_OUTPUTS = DATA / "responses" / "sandmann125" / "outputs.jsonl"


def shipped_case_set(session: Session, name: str) -> CaseSet:
    existing = session.exec(select(CaseSet).where(CaseSet.name == name)).first()
    if existing:
        return existing
    folder = SHIPPED_CASES / name
    mapping = load_mapping(folder / "mapping.toml")
    path = next(folder.glob("cases.*"))
    import_cases(session, read_case_file(path, mapping), name=name, mapping=mapping, source=str(path))
    return session.exec(select(CaseSet).where(CaseSet.name == name)).one()


def make_study(session: Session, name: str = "test-study", **settings) -> Study:
    study = Study(name=name, **settings)
    session.add(study)
    session.flush()
    return study


def add_model(
    session: Session,
    study: Study,
    name: str,
    *,
    is_reasoning: bool = False,
    paired_with: Model | None = None,
    backend: str = "import",
) -> Model:
    model = Model(
        study_id=study.id,
        name=name,
        backend=backend,
        is_reasoning=is_reasoning,
        paired_model_id=paired_with.id if paired_with else None,
    )
    session.add(model)
    session.flush()
    return model


def get_or_add_model(session: Session, study: Study, name: str, *, is_reasoning: bool = False) -> Model:
    found = session.exec(select(Model).where(Model.study_id == study.id, Model.name == name)).first()
    return found or add_model(session, study, name, is_reasoning=is_reasoning)


def _run(session: Session, study: Study, model: Model, case_set: CaseSet) -> Run:
    run = Run(study_id=study.id, model_id=model.id, case_set_id=case_set.id, source="imported", status="complete")
    session.add(run)
    session.flush()
    return run


def add_medrbench_r1(
    session: Session,
    study: Study,
    *,
    limit: int | None = None,
    incorrect_only: bool = False,
    judge_grades: bool = True,
) -> list[Response]:
    """The shipped real DeepSeek-R1 traces on MedR-Bench, each with the benchmark's judge verdict.

    The verdict is stored as an imported label (a reference, never a grade) and, unless judge_grades is
    False, also as the automatic grade of an LLM judge (what it is: MedR-Bench's GPT judge), so that tests
    have a graded study without running the grader.
    """
    case_set = shipped_case_set(session, "medrbench")
    model = get_or_add_model(session, study, "DeepSeek-R1", is_reasoning=True)
    run = _run(session, study, model, case_set)
    cases = {c.case_key: c for c in session.exec(select(Case).where(Case.case_set_id == case_set.id))}
    out = []
    for line in MEDRBENCH_R1.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        correct = row["accuracy"] in (True, "True")
        if incorrect_only and correct:
            continue
        resp = Response(
            run_id=run.id,
            case_id=cases[row["id"]].id,
            model_id=model.id,
            prompt=None,
            raw_output=row["content"],
            trace=row["thinking_process"],
            answer=row["content"],
            diagnoses=[row["gold_diagnosis"]] if correct else [],
            extra={"source_id": row["id"]},
        )
        session.add(resp)
        session.flush()
        session.add(
            Grade(
                response_id=resp.id,
                correct=correct,
                method="imported",
                grader="medrbench-gpt-judge",
                status="auto",
                rank=1 if correct else None,
            )
        )
        if judge_grades:
            session.add(
                Grade(
                    response_id=resp.id,
                    correct=correct,
                    method="judge",
                    grader="medrbench-gpt-judge",
                    status="auto",
                    rank=1 if correct else None,
                )
            )
        out.append(resp)
        if limit and len(out) >= limit:
            break
    session.flush()
    return out


def add_sandmann_outputs(session: Session, study: Study, models: list[str] | None = None) -> list[Response]:
    """The shipped real final answers of six LLMs on the Sandmann cases (no traces, no grades)."""
    case_set = shipped_case_set(session, "sandmann125")
    cases = {c.case_key: c for c in session.exec(select(Case).where(Case.case_set_id == case_set.id))}
    runs: dict[str, Run] = {}
    out = []
    for line in SANDMANN_OUTPUTS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if models and row["model"] not in models:
            continue
        if row["model"] not in runs:
            model = get_or_add_model(
                session, study, row["model"], is_reasoning=row["model"] in ("DeepSeek-R1", "Gem2FTE")
            )
            runs[row["model"]] = _run(session, study, model, case_set)
        run = runs[row["model"]]
        resp = Response(
            run_id=run.id,
            case_id=cases[row["case_id"]].id,
            model_id=run.model_id,
            raw_output=row["output"],
            answer=row["output"],
            extra={"human_likert_1to5": row["human_likert_1to5"]},
        )
        session.add(resp)
        out.append(resp)
    session.flush()
    return out


__all__ = [
    "CaseMapping",
    "Path",
    "add_medrbench_r1",
    "add_model",
    "add_sandmann_outputs",
    "get_or_add_model",
    "make_study",
    "shipped_case_set",
]
