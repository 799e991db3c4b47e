"""Grading names written for the purpose: common abbreviations, eponyms and synonyms (not from any shipped set).

    .venv/bin/python bench/bench_grade_names.py

Each pair is (gold, answer, the grade a clinician would give: True, False, or None = a clinician should
decide). Prints every pair with the grade, the tier and its score, then how many differ. Figures:
docs/accuracy.md ("Terminology").
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.accuracy import GoldNames, match_diagnoses  # noqa: E402
from pipeline.accuracy._embed import NameEmbedder  # noqa: E402

PAIRS = [  # (gold, answer, expected)
    ("Diabetic ketoacidosis", "DKA", True),
    ("Guillain-Barré syndrome", "GBS", True),
    ("Chronic obstructive pulmonary disease exacerbation", "Acute exacerbation of COPD", True),
    ("Type 2 diabetes mellitus", "T2DM", True),
    ("ST-elevation myocardial infarction", "STEMI", True),
    ("Myocardial infarction", "Heart attack", True),
    ("Pulmonary embolism", "PE", True),
    ("Systemic lupus erythematosus", "SLE", True),
    ("Systemic lupus erythematosus", "Lupus", None),
    ("Giant cell arteritis", "Temporal arteritis", True),
    ("Acute appendicitis", "Appendicitis, acute", True),
    ("Hypothyroidism", "Hashimoto's thyroiditis", None),
    ("Iron deficiency anemia", "Iron-deficiency anaemia", True),
    ("Amyotrophic lateral sclerosis", "Lou Gehrig's disease", True),
    ("Amyotrophic lateral sclerosis", "Motor neuron disease", None),
    ("Subarachnoid hemorrhage", "SAH", True),
    ("Subarachnoid hemorrhage", "Subdural hematoma", False),
    ("Acute myeloid leukemia", "AML", True),
    ("Acute myeloid leukemia", "ALL", False),
    ("Hodgkin lymphoma", "Hodgkin's disease", True),
    ("Kawasaki disease", "Mucocutaneous lymph node syndrome", True),
    ("Polymyalgia rheumatica", "PMR", True),
    ("Deep vein thrombosis", "DVT of the left leg", True),
    ("Urinary tract infection", "Cystitis", None),
    ("Pneumocystis jirovecii pneumonia", "PCP", True),
    ("Pneumocystis jirovecii pneumonia", "Pneumocystis pneumonia", True),
    ("Ankylosing spondylitis", "Axial spondyloarthritis", None),
    ("Multiple sclerosis", "MS", True),
    ("Mitral stenosis", "MS", None),
    ("Addison's disease", "Primary adrenal insufficiency", True),
    ("Cushing's disease", "Cushing's syndrome", None),
    ("Tension pneumothorax", "Pneumothorax", None),
    ("Left ventricular failure", "Right heart failure", False),
    ("Acute kidney injury", "Acute renal failure", True),
    ("Benign paroxysmal positional vertigo", "BPPV", True),
    ("Hereditary hemochromatosis", "Haemochromatosis", None),
    ("Gastroesophageal reflux disease", "GERD", True),
    ("Gastroesophageal reflux disease", "GORD", True),
    ("Idiopathic pulmonary fibrosis", "IPF", True),
    ("Thrombotic thrombocytopenic purpura", "TTP", True),
    ("Thrombotic thrombocytopenic purpura", "ITP", False),
]


def main() -> int:
    embedder = NameEmbedder()
    wrong = 0
    for gold, answer, expected in PAIRS:
        res = match_diagnoses([answer], GoldNames.build(gold), similarity=embedder)
        ok = res.correct is expected
        wrong += not ok
        score = "-" if res.score is None else f"{res.score:.2f}"
        print(f"{'  ' if ok else 'XX'} {gold!r:52} {answer!r:38} grade={res.correct!s:5} expected={expected!s:5} "
              f"tier={res.method} {score}")  # fmt: skip
    print(f"{len(PAIRS) - wrong} of {len(PAIRS)} as a clinician would grade; {wrong} differ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
