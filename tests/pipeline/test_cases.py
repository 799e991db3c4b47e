"""Case import: shipped sets, a user's own file, every kind of bad file, re-import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from db.engine import session_scope
from db.models import Case, CaseSet
from pipeline.cases import (
    CaseMapping,
    import_cases,
    load_mapping,
    read_case_file,
    resolve_source,
    summarise_case_sets,
)
from pipeline.errors import InputError

GOOD = {
    "case_id": "C1",
    "vignette": "A 30-year-old with chest pain.",
    "gold_diagnosis": "Pericarditis",
    "specialty": "Internal Medicine",
    "incidence": "Rare",
}


def _import(engine, source: str | Path, name: str | None = None, update: bool = False):
    path, mapping_path = resolve_source(str(source))
    mapping = load_mapping(mapping_path) if mapping_path else CaseMapping()
    records = read_case_file(path, mapping)
    with session_scope(engine) as s:
        return import_cases(
            s, records, name=name or mapping.name or path.stem, mapping=mapping, source=str(path), update=update
        )


def _snapshot(engine) -> list[tuple]:
    with Session(engine) as s:
        sets = [(c.name, c.task) for c in s.exec(select(CaseSet).order_by(CaseSet.name))]
        cases = [(c.case_key, c.content_hash) for c in s.exec(select(Case).order_by(Case.id))]
    return sets + cases


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_shipped_sandmann_counts(engine):
    report = _import(engine, "sandmann125")
    assert report.created_set and len(report.added) == 125
    with Session(engine) as s:
        (summary,) = summarise_case_sets(s, "sandmann125")
    assert summary.n_cases == 125
    assert {sp: summary.total(specialty=sp) for sp in summary.specialties()} == {
        "Internal Medicine": 31,
        "Pediatrics": 26,
        "Neurology": 23,
        "Surgery": 23,
        "Gynecology": 22,
    }
    assert {i: summary.total(incidence=i) for i in summary.incidences()} == {
        "Frequent": 42,
        "Less Frequent": 44,
        "Rare": 39,
    }
    with Session(engine) as s:
        case = s.exec(select(Case).where(Case.case_key == "S001")).one()
    assert case.gold_diagnosis == "Diverticulitis" and case.attributes["cohort"] == "original_110"


def test_shipped_eurorad_is_multiple_choice(engine):
    _import(engine, "eurorad60")
    with Session(engine) as s:
        cases = s.exec(select(Case)).all()
    assert len(cases) == 60
    assert all(c.task == "multiple_choice" and len(c.options) >= 2 for c in cases)


def test_shipped_medrbench(sqlite_engine):
    report = _import(sqlite_engine, "medrbench")
    assert len(report.added) == 957


def test_reimport_changes_nothing(engine):
    _import(engine, "sandmann125")
    before = _snapshot(engine)
    report = _import(engine, "sandmann125")
    assert not report.changed_anything and len(report.unchanged) == 125
    assert _snapshot(engine) == before


def test_changed_case_is_reported_not_overwritten(engine, tmp_path):
    f = _write_jsonl(tmp_path / "mine.jsonl", [GOOD, {**GOOD, "case_id": "C2"}])
    _import(engine, f)
    before = _snapshot(engine)
    _write_jsonl(f, [{**GOOD, "gold_diagnosis": "Myocarditis"}, {**GOOD, "case_id": "C2"}])
    with pytest.raises(InputError) as err:
        _import(engine, f)
    assert str(err.value) == (
        f"{f}:1: gold_diagnosis: case 'C1' differs from the stored case in set 'mine'; pass --update to overwrite it"
    )
    assert _snapshot(engine) == before
    report = _import(engine, f, update=True)
    assert report.updated == ["C1"]
    with Session(engine) as s:
        assert s.exec(select(Case.gold_diagnosis).where(Case.case_key == "C1")).one() == "Myocarditis"


def test_user_csv_with_other_column_names(engine, tmp_path):
    f = tmp_path / "ward.csv"
    f.write_text(
        "id,history,final_dx,dept,freq,alt_names,ward\n"
        'W1,"Fever and neck stiffness,\nphotophobia",Bacterial meningitis,Neurology,less-frequent,Meningitis|Meningococcal meningitis,A\n'
        "W2,Sudden tearing chest pain,Aortic dissection,Surgery,RARE,,B\n",
        encoding="utf-8",
    )
    m = tmp_path / "ward.toml"
    m.write_text(
        '[case_set]\nname = "ward"\n[fields]\ncase_id = "id"\nvignette = "history"\n'
        'gold_diagnosis = "final_dx"\nspecialty = "dept"\nincidence = "freq"\nsynonyms = "alt_names"\n'
    )
    records = read_case_file(f, load_mapping(m))
    assert [r.line for r in records] == [2, 4]
    with session_scope(engine) as s:
        import_cases(s, records, name="ward", mapping=load_mapping(m), source=str(f))
    with Session(engine) as s:
        w1 = s.exec(select(Case).where(Case.case_key == "W1")).one()
    assert w1.incidence == "Less Frequent" and w1.synonyms == ["Meningitis", "Meningococcal meningitis"]
    assert w1.attributes == {"ward": "A"} and "photophobia" in w1.vignette


BAD_FILES = {
    "broken JSON": (
        b'{"case_id": "C1", "vignette": "v", "gold_diagnosis": "g"}\n{"case_id": "C2", "vign\n',
        "bad.jsonl:2: broken JSON (column 19): Unterminated string starting at",
    ),
    "missing gold diagnosis": (
        json.dumps({**GOOD, "gold_diagnosis": ""}).encode() + b"\n",
        "bad.jsonl:1: gold_diagnosis: missing or empty",
    ),
    "duplicate case id": (
        (json.dumps(GOOD) + "\n" + json.dumps(GOOD) + "\n").encode(),
        "bad.jsonl:2: case_id: duplicate case id 'C1' (first on line 1)",
    ),
    "unknown incidence": (
        json.dumps({**GOOD, "incidence": "sometimes"}).encode() + b"\n",
        "bad.jsonl:1: incidence: unknown value 'sometimes'; use Frequent, Less Frequent or Rare",
    ),
    "wrong encoding": (
        json.dumps(GOOD).encode()
        + b"\n"
        + json.dumps({**GOOD, "case_id": "C2", "vignette": "Fièvre"}, ensure_ascii=False).encode("latin-1")
        + b"\n",
        "bad.jsonl:2: not UTF-8 text (byte 0xe8); save the file as UTF-8",
    ),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_file_gives_one_clear_message_and_leaves_db_as_it_was(engine, tmp_path, kind):
    _import(engine, "sandmann125")
    before = _snapshot(engine)
    content, expected = BAD_FILES[kind]
    f = tmp_path / "bad.jsonl"
    f.write_bytes(content)
    with pytest.raises(InputError) as err:
        _import(engine, f)
    assert str(err.value) == f"{tmp_path}/{expected}"
    assert _snapshot(engine) == before


def test_failure_mid_import_writes_nothing(engine, tmp_path, monkeypatch):
    """A database error after some rows were added rolls the whole import back."""
    f = _write_jsonl(tmp_path / "mine.jsonl", [GOOD, {**GOOD, "case_id": "C2"}])
    records = read_case_file(f, CaseMapping())
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        import_cases(s, records, name="mine", mapping=CaseMapping(), source=str(f))
        raise RuntimeError("disk full")
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Case)).one() == 0
        assert s.exec(select(CaseSet)).all() == []


def test_multiple_choice_needs_options(tmp_path):
    f = _write_jsonl(tmp_path / "mc.jsonl", [{**GOOD, "task": "multiple_choice", "options": ["A"]}])
    with pytest.raises(InputError, match=r"mc.jsonl:1: options: a multiple-choice case needs at least two options"):
        read_case_file(f, CaseMapping())


def test_csv_wrong_cell_count(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("case_id,vignette,gold_diagnosis\nC1,v,g\nC2,v\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"x.csv:3: 2 cells, the header has 3"):
        read_case_file(f, CaseMapping())


def test_every_problem_is_listed(tmp_path):
    f = _write_jsonl(tmp_path / "m.jsonl", [{"case_id": "A"}, {**GOOD, "incidence": "often"}])
    with pytest.raises(InputError) as err:
        read_case_file(f, CaseMapping())
    assert [(p.line, p.field) for p in err.value.problems] == [(1, "vignette"), (1, "gold_diagnosis"), (2, "incidence")]


def test_bad_mapping_is_named(tmp_path):
    m = tmp_path / "m.toml"
    m.write_text('[fields]\ndiagnosis = "dx"\n')
    with pytest.raises(InputError, match=r"m.toml: fields.diagnosis: unknown field"):
        load_mapping(m)
