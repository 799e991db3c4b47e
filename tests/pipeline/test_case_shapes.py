"""Case files as research groups have them, imported with a mapping alone; and every refusal, before any write.

Each test builds its own small file of one shape (nested JSON, several fields, no ids, options as
objects or a delimited string, .json array, JSONL, CSV/TSV, Parquet) and imports it through the CLI
as a lead would (in-process, `--db` after the subcommand), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from db.models import Case, CaseSet, Model, Response, Run, Study
from pipeline.cases import CaseMapping, build_cases, parse_mapping, split_delimited
from pipeline.cli import main
from pipeline.errors import InputError
from tests.conftest import REPO


def run(capsys, db_url: str, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--db", db_url])
    out = capsys.readouterr()
    return code, out.out, out.err


def counts(engine) -> dict[str, int]:
    with Session(engine) as s:
        return {
            t.__name__: s.exec(select(func.count()).select_from(t)).one()
            for t in (CaseSet, Case, Study, Model, Run, Response)
        }


def cases_of(engine, set_name: str) -> dict[str, Case]:
    with Session(engine) as s:
        rows = s.exec(select(Case).join(CaseSet).where(CaseSet.name == set_name)).all()
        return {c.case_key: c for c in rows}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# Three patients of an imagined ward, as a nested export would hold them.
WARD = [
    {
        "record": {"mrn": "W-001", "ward": "cardiology"},
        "patient": {"age": 61, "sex": "male"},
        "presentation": {"complaint": "crushing chest pain for 40 minutes", "history": "smoker, hypertension"},
        "exam": {"findings": "diaphoretic, BP 150/95"},
        "results": {"ecg": "ST elevation in II, III, aVF", "labs": ""},
        "outcome": {"final": {"diagnosis": "Inferior ST-elevation myocardial infarction"}},
    },
    {
        "record": {"mrn": "W-002", "ward": "neurology"},
        "patient": {"age": 34, "sex": "female"},
        "presentation": {"complaint": "worst headache of her life", "history": ""},
        "exam": {"findings": "neck stiffness"},
        "results": {"ecg": None, "labs": "xanthochromic CSF"},
        "outcome": {"final": {"diagnosis": "Subarachnoid haemorrhage"}},
    },
]

SECTIONS_MAPPING = """
[case_set]
name = "ward"
[fields]
case_id = "record.mrn"
gold_diagnosis = "outcome.final.diagnosis"
specialty = "record.ward"
[vignette]
sections = [
  { heading = "Patient", field = "join(' ', [to_string(patient.age), 'year-old', patient.sex])" },
  { heading = "Chief complaint", field = "presentation.complaint" },
  { heading = "History", field = "presentation.history" },
  { heading = "Examination", field = "exam.findings" },
  { heading = "ECG", field = "results.ecg" },
  { heading = "Laboratory", field = "results.labs" },
]
"""


def test_nested_json_array_with_sections(capsys, db_url, engine, tmp_path):
    data = write(tmp_path / "ward.json", json.dumps(WARD, indent=2))
    mapping = write(tmp_path / "ward.toml", SECTIONS_MAPPING)
    code, out, err = run(capsys, db_url, "import-cases", str(data), "--mapping", str(mapping))
    assert code == 0, err
    cases = cases_of(engine, "ward")
    assert set(cases) == {"W-001", "W-002"}
    first = cases["W-001"]
    assert first.vignette == (
        "Patient: 61 year-old male\n\nChief complaint: crushing chest pain for 40 minutes\n\n"
        "History: smoker, hypertension\n\nExamination: diaphoretic, BP 150/95\n\nECG: ST elevation in II, III, aVF"
    )
    assert "Laboratory" not in first.vignette and "History" not in cases["W-002"].vignette  # empty parts skipped
    assert first.specialty == "cardiology" and first.gold_diagnosis == "Inferior ST-elevation myocardial infarction"
    for case in cases.values():  # the gold lives in the same record, and must not reach the prompt
        assert case.gold_diagnosis.lower() not in case.vignette.lower()
        assert "outcome" not in case.vignette
    # Columns read into fields are not kept again as attributes (the gold would be there).
    assert "outcome" not in first.attributes and "patient" not in first.attributes


TEMPLATE_MAPPING = '''
[case_set]
name = "clinic"
[ids]
prefix = "clinic-"
[fields]
gold_diagnosis = "Final diagnosis"
[vignette]
template = """
{{ age }}-year-old {{ sex }}.
{% if complaint %}Complaint: {{ complaint }}{% endif %}

{% if row["Past history"] %}Past history: {{ row["Past history"] }}{% endif %}

{% if exam %}Examination: {{ exam }}{% endif %}
"""
'''


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_csv_template_and_generated_ids(capsys, db_url, engine, tmp_path, suffix):
    sep = "," if suffix == ".csv" else "\t"
    header = ["age", "sex", "complaint", "Past history", "exam", "Final diagnosis"]
    rows = [
        ["8", "boy", "limp and fever", "", "hip held flexed", "Septic arthritis of the hip"],
        [
            "72",
            "woman",
            "sudden painless loss of vision",
            "atrial fibrillation",
            "",
            "Central retinal artery occlusion",
        ],
    ]
    text = "\n".join(sep.join(r) for r in [header, *rows]) + "\n"
    data = write(tmp_path / f"clinic{suffix}", text)
    mapping = write(tmp_path / "clinic.toml", TEMPLATE_MAPPING)
    assert run(capsys, db_url, "import-cases", str(data), "--mapping", str(mapping))[0] == 0
    cases = cases_of(engine, "clinic")
    assert set(cases) == {"clinic-1", "clinic-2"}
    assert cases["clinic-1"].vignette == "8-year-old boy.\nComplaint: limp and fever\n\nExamination: hip held flexed"
    assert cases["clinic-2"].vignette == (
        "72-year-old woman.\nComplaint: sudden painless loss of vision\n\nPast history: atrial fibrillation"
    )
    for case in cases.values():
        assert case.gold_diagnosis.lower() not in case.vignette.lower()
    # Generated ids are stable: the same file again changes nothing.
    before = counts(engine)
    code, out, _ = run(capsys, db_url, "import-cases", str(data), "--mapping", str(mapping))
    assert code == 0 and "0 added, 0 updated, 2 unchanged" in out
    assert counts(engine) == before


def _mcq_rows() -> list[dict]:
    return [
        {
            "qid": "Q1",
            "stem": "A 25-year-old with pleuritic chest pain after a long flight.",
            "answers": [
                {"text": "Pulmonary embolism", "correct": True},
                {"text": "Pneumothorax", "correct": False},
                {"text": "Pericarditis", "correct": False},
            ],
        },
        {
            "qid": "Q2",
            "stem": "A child with a barking cough and stridor.",
            "answers": [{"text": "Epiglottitis", "correct": False}, {"text": "Croup", "correct": True}],
        },
    ]


MCQ_MAPPING = """
[case_set]
task = "multiple_choice"
[fields]
case_id = "qid"
vignette = "stem"
options = "answers"
"""


def test_parquet_options_as_objects_with_a_correct_flag(capsys, db_url, engine, tmp_path):
    data = tmp_path / "mcq.parquet"
    pq.write_table(pa.Table.from_pylist(_mcq_rows()), data)
    mapping = write(tmp_path / "mcq.toml", MCQ_MAPPING)
    assert run(capsys, db_url, "import-cases", str(data), "--mapping", str(mapping))[0] == 0
    cases = cases_of(engine, "mcq")
    assert cases["Q1"].options == ["Pulmonary embolism", "Pneumothorax", "Pericarditis"]
    assert cases["Q1"].gold_diagnosis == "Pulmonary embolism" and cases["Q2"].gold_diagnosis == "Croup"
    assert cases["Q2"].task == "multiple_choice"


def test_jmespath_filter_for_the_gold(tmp_path):
    """The flagged option can also be picked with a JMESPath filter, as JSONL."""
    f = write(tmp_path / "mcq.jsonl", "\n".join(json.dumps(r) for r in _mcq_rows()))
    mapping = parse_mapping(MCQ_MAPPING + 'gold_diagnosis = "answers[?correct].text | [0]"\n', "m.toml")
    problems: list = []
    from pipeline._files import read_records

    cases = build_cases(read_records(f, problems), str(f), mapping)
    assert [c.gold_diagnosis for c in cases] == ["Pulmonary embolism", "Croup"]


def test_delimited_options_keep_the_gold_and_brackets_whole(capsys, db_url, engine, tmp_path):
    data = write(
        tmp_path / "rad.tsv",
        "id\treport\tdx\tddx\n"
        "R1\tLytic lesion of the femur.\tGiant cell tumour\tGiant cell tumour; Aneurysmal bone cyst; Metastasis\n"
        "R2\tRenal mass.\tAngiomyolipoma, fat-poor\tRenal cell carcinoma; Angiomyolipoma, fat-poor; Oncocytoma (incl. hybrid; rare)\n",
    )
    mapping = write(
        tmp_path / "rad.toml",
        '[case_set]\ntask = "multiple_choice"\n[fields]\ncase_id = "id"\nvignette = "report"\n'
        'gold_diagnosis = "dx"\noptions = "ddx"\n[options]\nseparator = ";"\n',
    )
    assert run(capsys, db_url, "import-cases", str(data), "--mapping", str(mapping))[0] == 0
    cases = cases_of(engine, "rad")
    assert cases["R2"].options == [
        "Renal cell carcinoma",
        "Angiomyolipoma, fat-poor",
        "Oncocytoma (incl. hybrid; rare)",
    ]


def test_split_delimited_rules():
    assert split_delimited("A, B [1,2], C", ",") == ["A", "B [1,2]", "C"]
    assert split_delimited("X, Sturge-Weber syndrome, type 1, Y", ",", "Sturge-Weber syndrome, type 1") == [
        "X",
        "Sturge-Weber syndrome, type 1",
        "Y",
    ]
    assert split_delimited("A|B", "|", "Z") == ["A", "B"]


def test_shipped_eurorad_gold_is_exactly_one_option(sqlite_engine, capsys, tmp_path):
    url = str(sqlite_engine.url)
    assert run(capsys, url, "import-cases", "eurorad60")[0] == 0
    for case in cases_of(sqlite_engine, "eurorad60").values():
        assert [o.casefold() for o in case.options].count(case.gold_diagnosis.casefold()) == 1


# ----------------------------------------------------------------------------------------- refusals

REFUSALS = {
    "dict onto the vignette": (
        '[fields]\ncase_id = "record.mrn"\nvignette = "presentation"\ngold_diagnosis = "outcome.final.diagnosis"\n',
        "ward.json:2: vignette (column 'presentation'): is a JSON object, not text",
    ),
    "list onto the gold": (
        '[fields]\ncase_id = "record.mrn"\nvignette = "presentation.complaint"\ngold_diagnosis = "outcome.*"\n',
        "ward.json:2: gold_diagnosis (column 'outcome.*'): is a list, not text",
    ),
    "absent column": (
        '[fields]\ncase_id = "record.mrn"\nvignette = "presentation.complaint"\ngold_diagnosis = "final_dx"\n',
        "ward.json: gold_diagnosis: column 'final_dx' is not in the file; "
        "its columns: record, patient, presentation, exam, results, outcome",
    ),
    "unknown section": (
        '[field]\ncase_id = "record.mrn"\n',
        "m.toml: field: unknown section",
    ),
    "unknown key": (
        '[case_set]\nnmae = "x"\n[fields]\ncase_id = "record.mrn"\n',
        "m.toml: case_set.nmae: unknown key",
    ),
    "template printing a dict": (
        '[fields]\ncase_id = "record.mrn"\ngold_diagnosis = "outcome.final.diagnosis"\n'
        '[vignette]\ntemplate = "{{ presentation }} {{ outcome }}"\n',
        "ward.json:2: vignette (template): a template expression gives a JSON object, not text",
    ),
    "options without the multiple-choice task": (
        '[fields]\ncase_id = "record.mrn"\nvignette = "presentation.complaint"\n'
        'gold_diagnosis = "outcome.final.diagnosis"\noptions = "[exam.findings, outcome.final.diagnosis]"\n',
        "ward.json:2: options (column '[exam.findings, outcome.final.diagnosis]'): options are given but the task is differential",
    ),
    "gold not among the options": (
        '[case_set]\ntask = "multiple_choice"\n[fields]\ncase_id = "record.mrn"\nvignette = "presentation.complaint"\n'
        'gold_diagnosis = "outcome.final.diagnosis"\noptions = "[exam.findings, presentation.history]"\n',
        "ward.json:2: gold_diagnosis: 'Inferior ST-elevation myocardial infarction' is not one of the case's options",
    ),
    "sandbox": (
        '[fields]\ncase_id = "record.mrn"\ngold_diagnosis = "outcome.final.diagnosis"\n'
        '[vignette]\ntemplate = "{{ row.__class__.__mro__ }}"\n',
        # The sandbox hides Python internals: the template gives nothing, and the case is refused.
        "ward.json:2: vignette (template): missing or empty",
    ),
}


@pytest.mark.parametrize("kind", REFUSALS)
def test_refusal_is_one_line_and_writes_nothing(capsys, db_url, engine, tmp_path, kind):
    assert run(capsys, db_url, "import-cases", "sandmann125")[0] == 0
    before = counts(engine)
    data = write(tmp_path / "ward.json", json.dumps(WARD, indent=2))
    text, expected = REFUSALS[kind]
    mapping = write(tmp_path / "m.toml", text)
    code, out, err = run(capsys, db_url, "import-cases", str(data), "--mapping", str(mapping))
    assert code == 2
    first = err.splitlines()[0]
    assert first.startswith(f"error: {tmp_path}/{expected}"), err
    assert "Traceback" not in err
    assert counts(engine) == before


def test_absent_column_is_one_error_not_one_per_row(tmp_path):
    rows = [{"id": str(i), "text": "v", "dx": "g"} for i in range(50)]
    f = write(tmp_path / "many.jsonl", "\n".join(json.dumps(r) for r in rows))
    with pytest.raises(InputError) as err:
        build_cases(
            [(i + 1, r) for i, r in enumerate(rows)], str(f), CaseMapping(fields={"case_id": "id", "vignette": "text"})
        )
    assert len(err.value.problems) == 1
    assert (
        str(err.value) == f"{f}: gold_diagnosis: column 'gold_diagnosis' is not in the file; its columns: id, text, dx"
    )


def test_two_flagged_options_are_refused(tmp_path):
    rows = _mcq_rows()
    rows[1]["answers"][0]["correct"] = True
    mapping = parse_mapping(MCQ_MAPPING, "m.toml")
    with pytest.raises(InputError) as err:
        build_cases([(1, rows[0]), (2, rows[1])], "mcq.jsonl", mapping)
    assert (
        str(err.value)
        == "mcq.jsonl:2: options (column 'answers'): 2 options are flagged 'correct'; exactly one must be"
    )


def test_long_vignette_is_a_warning_at_import(capsys, db_url, engine, tmp_path):
    data = write(
        tmp_path / "long.jsonl", json.dumps({"case_id": "L1", "vignette": "cough " * 50, "gold_diagnosis": "Asthma"})
    )
    mapping = write(tmp_path / "long.toml", "[case_set]\nmax_vignette_chars = 100\n")
    code, out, err = run(capsys, db_url, "import-cases", str(data), "--mapping", str(mapping))
    assert code == 0
    assert f"warning: {data}:1: vignette: case 'L1': 299 characters, over the limit of 100" in err
    assert len(cases_of(engine, "long")) == 1


def test_shipped_name_is_not_reused_and_borrowed_metadata_stays_behind(capsys, db_url, engine, tmp_path):
    assert run(capsys, db_url, "import-cases", "eurorad60")[0] == 0
    before = counts(engine)
    # Another file read with the shipped mapping: it must become its own set, not rows of eurorad60.
    src = (REPO / "data/cases/eurorad60/cases.jsonl").read_text(encoding="utf-8").splitlines()[0]
    row = json.loads(src)
    mine = {**row, "case_id": "mine-1", "case_text": "A 50-year-old with a new radiology finding."}
    data = write(tmp_path / "my_cases.jsonl", json.dumps(mine))
    borrowed = str(REPO / "data/cases/eurorad60/mapping.toml")
    code, _, err = run(capsys, db_url, "import-cases", str(data), "--mapping", borrowed, "--name", "eurorad60")
    assert code == 2 and "'eurorad60' is a shipped case set; import this file under its own name" in err
    assert counts(engine) == before
    code, out, err = run(
        capsys, db_url, "import-cases", str(data), "--mapping", borrowed, "--attribution", "Our radiology department"
    )
    assert code == 0, err
    with Session(engine) as s:
        own = s.exec(select(CaseSet).where(CaseSet.name == "my_cases")).one()
        shipped = s.exec(select(CaseSet).where(CaseSet.name == "eurorad60")).one()
        n_shipped = s.exec(select(func.count()).select_from(Case).where(Case.case_set_id == shipped.id)).one()
    assert n_shipped == 60
    assert own.attribution == "Our radiology department" and own.licence is None and own.description is None


def test_cases_show_one_case(capsys, db_url, engine, tmp_path):
    data = write(tmp_path / "ward.json", json.dumps(WARD))
    mapping = write(tmp_path / "ward.toml", SECTIONS_MAPPING)
    assert run(capsys, db_url, "import-cases", str(data), "--mapping", str(mapping))[0] == 0
    code, out, _ = run(capsys, db_url, "cases", "--show", "W-002")
    assert code == 0
    assert "gold diagnosis: Subarachnoid haemorrhage" in out and "Chief complaint: worst headache of her life" in out
    assert "case set: ward" in out
    code, _, err = run(capsys, db_url, "cases", "--show", "W-999")
    assert code == 2 and err.strip() == "error: no case 'W-999'"


def test_db_flag_before_or_after_the_subcommand(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert main(["--db", url, "import-cases", "sandmann125"]) == 0
    assert main(["cases", "--case-set", "sandmann125", "--db", url]) == 0
    assert "sandmann125 (differential, 125 cases)" in capsys.readouterr().out


def test_vignette_stating_its_gold_is_a_warning(capsys, sqlite_engine, tmp_path):
    row = {
        "case_id": "G1",
        "vignette": "Known pulmonary embolism, now breathless.",
        "gold_diagnosis": "Pulmonary embolism",
    }
    data = write(tmp_path / "leak.jsonl", json.dumps(row))
    code, _, err = run(capsys, str(sqlite_engine.url), "import-cases", str(data))
    assert code == 0
    assert (
        f"warning: {data}:1: vignette: case 'G1': the vignette contains the gold diagnosis 'Pulmonary embolism'" in err
    )


def test_json_files_name_their_problem(tmp_path):
    from pipeline._files import read_records

    wrapped = write(tmp_path / "wrapped.json", json.dumps({"meta": {}, "cases": [{"id": 1}]}, indent=2))
    problems: list = []
    assert read_records(wrapped, problems) == []
    assert [str(p) for p in problems] == [
        f"{wrapped}:1: one JSON object, not an array of records; the records may be under: cases (1 items); "
        "save the records as an array"
    ]
    broken = write(tmp_path / "broken.json", '[\n {"id": 1},\n {"id": 2,\n]\n')
    problems = []
    assert [line for line, _ in read_records(broken, problems)] == [2]
    assert len(problems) == 1 and problems[0].line == 4


def test_bad_mapping_values_are_each_named():
    text = (
        '[options]\ntext = 5\n[vignette]\nsections = [{heading = "A"}]\ntemplate = "{% if %}"\n'
        '[case_set]\nmax_vignette_chars = 0\n[ids]\nprefix = "x-"\n[fields]\ncase_id = "id"\nvignette = "v"\n'
    )
    with pytest.raises(InputError) as err:
        parse_mapping(text, "m.toml")
    msg = str(err.value)
    for expected in (
        "m.toml: options.text: must be a string",
        "m.toml: vignette.sections: must be a list of",
        "m.toml: vignette.template: not a valid Jinja2 template",
        "m.toml: case_set.max_vignette_chars: must be a whole number >= 1",
        "m.toml: ids.prefix: generated ids and fields.case_id exclude each other",
        "m.toml: fields.vignette: the [vignette] section builds the vignette",
    ):
        assert expected in msg, msg


def test_options_as_an_object_with_the_gold_as_its_key(capsys, db_url, engine, tmp_path):
    rows = [
        {
            "question": "A 19-year-old with fever, sore throat and posterior cervical nodes after amoxicillin rash.",
            "options": {"A": "Streptococcal pharyngitis", "B": "Infectious mononucleosis", "C": "Acute HIV"},
            "answer_idx": "B",
        },
        {
            "question": "A 70-year-old with painless jaundice and a palpable gallbladder.",
            "options": {"A": "Choledocholithiasis", "B": "Hepatitis A", "C": "Carcinoma of the pancreatic head"},
            "answer_idx": "C",
        },
    ]
    data = write(tmp_path / "qa.jsonl", "\n".join(json.dumps(r) for r in rows))
    mapping = write(
        tmp_path / "qa.toml",
        '[case_set]\ntask = "multiple_choice"\n[ids]\nprefix = "qa-"\n'
        '[fields]\nvignette = "question"\ngold_diagnosis = "answer_idx"\noptions = "options"\n[options]\ngold = "key"\n',
    )
    code, _, err = run(capsys, db_url, "import-cases", str(data), "--mapping", str(mapping))
    assert code == 0, err
    cases = cases_of(engine, "qa")
    assert cases["qa-1"].gold_diagnosis == "Infectious mononucleosis"
    assert cases["qa-2"].options == ["Choledocholithiasis", "Hepatitis A", "Carcinoma of the pancreatic head"]
    assert cases["qa-2"].gold_diagnosis == "Carcinoma of the pancreatic head"
    # Without options.gold the letter is refused, with a hint.
    before = counts(engine)
    write(mapping, mapping.read_text().replace('[options]\ngold = "key"\n', "").replace('"qa-"', '"qb-"'))
    code, _, err = run(capsys, db_url, "import-cases", str(data), "--mapping", str(mapping))
    assert code == 2 and "'B' is not one of the case's options" in err and 'set [options] gold = "key"' in err
    assert counts(engine) == before


def test_options_in_several_columns_with_the_gold_as_a_number(tmp_path):
    f = write(
        tmp_path / "mcq.csv",
        "id,question,opa,opb,opc,opd,cop\n"
        "M1,Drug of choice for absence seizures?,Phenytoin,Ethosuximide,Carbamazepine,Gabapentin,2\n"
        "M2,Most common site of carcinoid?,Appendix,Rectum,Ileum,Stomach,5\n",
    )
    text = (
        '[case_set]\ntask = "multiple_choice"\n[fields]\ncase_id = "id"\nvignette = "question"\n'
        'gold_diagnosis = "cop"\noptions = "[opa, opb, opc, opd]"\n[options]\ngold = "index1"\n'
    )
    from pipeline._files import read_records

    with pytest.raises(InputError) as err:
        build_cases(read_records(f, []), str(f), parse_mapping(text, "m.toml"))
    assert str(err.value) == f"{f}:3: gold_diagnosis: '5' is not an option number from 1 to 4 (options.gold = 'index1')"
    f.write_text(f.read_text().replace(",5\n", ",3\n"))
    cases = build_cases(read_records(f, []), str(f), parse_mapping(text, "m.toml"))
    assert [c.gold_diagnosis for c in cases] == ["Ethosuximide", "Ileum"]
    assert cases[0].options == ("Phenytoin", "Ethosuximide", "Carbamazepine", "Gabapentin")


def test_option_objects_without_a_flag_take_the_mapped_gold(tmp_path):
    row = {
        "id": "K1",
        "q": "Painless haematuria in a smoker.",
        "options": [{"key": "A", "value": "Bladder carcinoma"}, {"key": "B", "value": "Cystitis"}],
        "answer": "A",
    }
    text = (
        '[case_set]\ntask = "multiple_choice"\n[fields]\ncase_id = "id"\nvignette = "q"\n'
        'gold_diagnosis = "answer"\noptions = "options"\n[options]\ntext = "value"\ngold = "key"\n'
    )
    (case,) = build_cases([(1, row)], "k.jsonl", parse_mapping(text, "m.toml"))
    assert case.gold_diagnosis == "Bladder carcinoma" and case.options == ("Bladder carcinoma", "Cystitis")
