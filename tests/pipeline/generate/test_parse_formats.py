"""Format readers, list-or-one decisions, flagged fallbacks and multiple choice, on outputs shaped like real ones.

Every example here is written for the tests in the shape the named models produce; none is copied
from a shipped set. The last group checks properties over all shipped outputs.
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from db.models import TASK_MULTIPLE_CHOICE
from pipeline.generate import parse_answer, parse_choice, parse_diagnoses, parse_output
from pipeline.generate._formats import READERS, reader, split_output
from tests.factories import MEDRBENCH_R1, SANDMANN_OUTPUTS

# ----------------------------------------------------------------- think tags (R1 and its distills)

R1_INLINE = (
    "<think>\nOkay, a 34-year-old with polyuria, polydipsia and weight loss. Glucose 480, ketones positive.\n"
    "That is diabetic ketoacidosis, most likely new type 1 diabetes.\n</think>\n\n"
    "**Final diagnosis:** Type I diabetes mellitus presenting with diabetic ketoacidosis"
)


def test_think_tags_then_an_answer_section():
    got = parse_answer(R1_INLINE)
    assert got.reader == "think_tags+answer_section"
    assert got.trace.startswith("Okay, a 34-year-old") and "ketoacidosis" in got.trace
    assert got.answer == "Type I diabetes mellitus presenting with diabetic ketoacidosis"
    assert got.diagnoses == ["Type I diabetes mellitus presenting with diabetic ketoacidosis"]
    assert got.shape == "single" and got.note is None


def test_think_closing_tag_only_as_r1_distills_emit():
    got = parse_answer("Fever and a new murmur in an IV drug user.\n</think>\n\n1. Infective endocarditis\n2. Sepsis")
    assert got.reader == "think_tags" and got.trace == "Fever and a new murmur in an IV drug user."
    assert got.diagnoses == ["Infective endocarditis", "Sepsis"] and got.shape == "list"


@pytest.mark.parametrize(
    "raw",
    [
        "<|channel|>analysis<|message|>Fever and a murmur.<|end|><|start|>assistant<|channel|>final<|message|>"
        "Infective endocarditis<|return|>",  # gpt-oss served without a reasoning parser
        "<|begin_of_thought|>\nFever and a murmur.\n<|end_of_thought|>\n\n<|begin_of_solution|>\n"
        "Infective endocarditis\n<|end_of_solution|>",
        "[THINK]Fever and a murmur.[/THINK]Infective endocarditis",
        "<seed:think>Fever and a murmur.</seed:think>Infective endocarditis",
    ],
)
def test_other_reasoning_tag_styles(raw):
    got = parse_answer(raw)
    assert got.reader == "think_tags" and got.trace == "Fever and a murmur."
    assert got.answer == "Infective endocarditis" and got.diagnoses == ["Infective endocarditis"]


def test_think_unclosed_block_is_all_trace_and_flagged():
    out = parse_output("<think>Weighing endocarditis against lupus, the next step", task="diagnosis")
    assert out.trace == "Weighing endocarditis against lupus, the next step" and out.answer == ""
    assert not out.parse_ok and "cut off" in out.parse_error and out.reader == "think_tags"


# ----------------------------------------------------------------- answer section (QwQ-style)

QWQ = (
    "So, let me think this through. The patient is a 60-year-old smoker with hemoptysis and weight loss.\n\n"
    "First, lung cancer has to be top of the list. Tuberculosis is possible but there is no fever.\n\n"
    "Wait, the biopsy shows TTF-1 positive glandular cells, so adenocarcinoma.\n\n"
    "### Answer:\n"
    "Metastatic pulmonary adenocarcinoma (non-small cell lung cancer) with EGFR L858R mutation, T4N3M1c "
    "(stage IVB), involving brain, bone, and regional lymph nodes."
)


def test_answer_section_splits_qwq_reasoning_and_keeps_the_compound_whole():
    got = parse_answer(QWQ)
    assert got.reader == "answer_section"
    assert got.trace.startswith("So, let me think") and got.trace.endswith("so adenocarcinoma.")
    assert got.answer.startswith("Metastatic pulmonary adenocarcinoma") and got.answer in QWQ
    assert len(got.diagnoses) == 1 and got.diagnoses[0].startswith("Metastatic pulmonary adenocarcinoma")
    assert "involving brain, bone, and regional lymph nodes" in got.diagnoses[0]


def test_the_issue_example_gives_one_diagnosis():
    text = QWQ[QWQ.index("### Answer:") :]
    (only,) = parse_diagnoses(text)
    assert only.startswith("Metastatic pulmonary adenocarcinoma")


@pytest.mark.parametrize(
    "heading",
    ["### Answer:", "**Final Answer**", "**Final Answer:**", "Final diagnosis:", "Diagnosis:", "## Final Diagnosis"],
)
def test_answer_section_headings(heading):
    text = f"The rash spares the palms. Koplik spots were seen.\n\n{heading}\nMeasles (rubeola)"
    got = parse_answer(text)
    assert got.reader == "answer_section" and got.trace == "The rash spares the palms. Koplik spots were seen."
    assert got.diagnoses == ["Measles (rubeola)"]


def test_answer_section_with_an_explanation_after_it():
    text = "Thinking about it... gout.\n\n**Final Answer:** Acute gouty arthritis\n\n**Explanation:** urate crystals."
    got = parse_answer(text)
    assert got.answer == "Acute gouty arthritis" and "urate crystals" in got.trace
    assert got.diagnoses == ["Acute gouty arthritis"]


def test_qwq_boxed_final_answer():
    text = "Hmm, hilar nodes and erythema nodosum.\n\n**Final Answer**\n\n\\[ \\boxed{\\text{Löfgren syndrome}} \\]"
    got = parse_answer(text)
    assert got.reader == "answer_section" and got.diagnoses == ["Löfgren syndrome"]


def test_a_repeated_diagnosis_field_inside_list_items_is_not_the_answer():
    text = (
        "1. Gout\n Diagnosis: joint aspiration\n2. Pseudogout\n Diagnosis: joint aspiration\n"
        "3. Septic arthritis\n Diagnosis: Gram stain and culture"
    )
    got = parse_answer(text)
    assert got.reader == "plain" and got.trace is None
    assert got.diagnoses == ["Gout", "Pseudogout", "Septic arthritis"]


def test_a_diagnosis_field_under_the_first_item_is_not_the_answer():
    text = "1. Migraine\n\nDiagnosis: clinical, by history\n\n2. Tension-type headache\n3. Cluster headache"
    assert parse_answer(text).reader == "plain"
    assert parse_diagnoses(text) == ["Migraine", "Tension-type headache", "Cluster headache"]


def test_a_most_likely_pick_after_a_ranked_list_keeps_the_list():
    text = (
        "Appendicitis\n\nRLQ pain and fever.\n\nOvarian torsion\n\nSudden onset.\n\nEctopic pregnancy\n\n"
        "Needs a pregnancy test.\n\nMost likely diagnosis: Appendicitis"
    )
    assert parse_diagnoses(text) == ["Appendicitis", "Ovarian torsion", "Ectopic pregnancy"]


def test_an_empty_answer_section_is_flagged_and_the_reasoning_is_read_strictly():
    text = "The biopsy and imaging are consistent with cardiac angiosarcoma, a rare tumour.\n\n### Answer:"
    got = parse_answer(text)
    assert got.answer == "" and got.diagnoses == ["cardiac angiosarcoma"]
    assert got.note == "the answer section is empty; diagnoses taken from the reasoning"
    out = parse_output(text, task="diagnosis")
    assert not out.parse_ok and out.parse_error == got.note and out.diagnoses == ["cardiac angiosarcoma"]


# ----------------------------------------------------------------- step-tagged (Gemini-style)

GEMINI = (
    "<step 1> The patient has episodic hypertension, headache and sweating.\n\n"
    "<step 2> Plasma metanephrines are three times the upper limit; the CT shows a 4 cm adrenal mass.\n\n"
    "<step 3> This triad with raised metanephrines points to a catecholamine-secreting tumour.\n\n"
    "### Answer:\nPheochromocytoma of the left adrenal gland"
)


def test_step_tagged_reasoning_then_the_answer():
    got = parse_answer(GEMINI)
    assert got.reader == "step_tagged"
    assert got.trace.startswith("<step 1>") and got.trace.endswith("catecholamine-secreting tumour.")
    assert got.diagnoses == ["Pheochromocytoma of the left adrenal gland"] and got.shape == "single"


def test_step_n_colon_style_with_the_answer_after_the_last_step():
    text = (
        "Step 1: Young woman, malar rash, arthralgia.\nStep 2: ANA and anti-dsDNA positive, low C3.\n\n"
        "The most likely diagnosis is systemic lupus erythematosus."
    )
    got = parse_answer(text)
    assert got.reader == "step_tagged" and got.trace.startswith("Step 1:")
    assert got.diagnoses == ["systemic lupus erythematosus"]


@pytest.mark.parametrize(
    "text",
    [
        "### Answer:\nInfective endocarditis\n\n### Step-by-step reasoning\n<step 1> Fever.\n<step 2> Murmur.",
        "**Final diagnosis:** Infective endocarditis\n\n<step 1> Fever.\n<step 2> Murmur.",
    ],
)
def test_the_answer_first_then_its_steps(text):
    got = parse_answer(text)
    assert got.reader == "step_tagged" and "<step 2> Murmur." in got.trace and got.note is None
    assert got.diagnoses == ["Infective endocarditis"]


def test_steps_without_any_answer_read_the_last_step_and_flag_it():
    text = "**Step 1:** Fever and neck stiffness.\n**Step 2:** CSF shows neutrophils; bacterial meningitis."
    got = parse_answer(text)
    assert got.reader == "step_tagged" and got.note and "last step" in got.note
    assert not parse_output(text, task="diagnosis").parse_ok


def test_a_separate_reasoning_field_and_step_reasoning_in_the_answer_both_go_to_the_trace():
    out = parse_output(None, task="diagnosis", trace="Okay, hypertension and sweats...", answer=GEMINI)
    assert out.reader == "reasoning_field+step_tagged"
    assert out.trace.startswith("Okay, hypertension and sweats...") and "<step 3>" in out.trace
    assert out.answer == "Pheochromocytoma of the left adrenal gland" and out.parse_ok


# ----------------------------------------------------------------- reasoning summary (o3-mini style)

O3_QUOTED = (
    "> **Reasoning**\n"
    "> **Assessing the symptoms**\n"
    "> I'm noting a child with a barking cough and inspiratory stridor after a cold.\n"
    ">\n"
    "> **Considering the differential**\n"
    "> Epiglottitis is less likely without drooling or toxicity.\n\n"
    "The most likely diagnosis is croup (laryngotracheobronchitis)."
)

O3_TITLES = (
    "**Assessing the diagnosis**\n\n"
    "I'm piecing together a picture of painless jaundice, weight loss and a palpable gallbladder.\n\n"
    "**Evaluating the imaging**\n\n"
    "The CT shows a mass in the head of the pancreas with a dilated duct.\n\n"
    "Pancreatic adenocarcinoma (head of pancreas)"
)


def test_quoted_reasoning_summary_then_the_answer():
    got = parse_answer(O3_QUOTED)
    assert got.reader == "reasoning_summary"
    assert got.trace.startswith("**Reasoning**") and "barking cough" in got.trace and ">" not in got.trace
    assert got.answer == "The most likely diagnosis is croup (laryngotracheobronchitis)."
    assert got.diagnoses == ["croup (laryngotracheobronchitis)"]


def test_bold_gerund_titles_are_reasoning_and_never_diagnoses():
    got = parse_answer(O3_TITLES)
    assert got.reader == "reasoning_summary" and "Evaluating the imaging" in got.trace
    assert got.diagnoses == ["Pancreatic adenocarcinoma (head of pancreas)"]


def test_reasoned_for_line_then_a_quoted_summary():
    text = "Reasoned for 9 seconds\n> **Weighing the options**\n> Painless jaundice is worrying.\n\nPancreatic cancer"
    got = parse_answer(text)
    assert got.reader == "reasoning_summary" and "Painless jaundice" in got.trace
    assert got.diagnoses == ["Pancreatic cancer"]


def test_reasoning_summary_marker_with_a_rule_before_the_answer():
    text = (
        "Reasoning summary:\nWeighing viral against bacterial causes.\n\n---\n\n1. Viral pharyngitis\n2. Strep throat"
    )
    got = parse_answer(text)
    assert got.reader == "reasoning_summary" and got.trace.startswith("Reasoning summary")
    assert got.diagnoses == ["Viral pharyngitis", "Strep throat"]


def test_untitled_summary_reads_its_last_paragraph_and_flags_it():
    got = parse_answer("Reasoning:\nFirst thought.\n\nSecond thought.\n\nAcute gout")
    assert got.reader == "reasoning_summary" and got.trace.endswith("Second thought.")
    assert got.diagnoses == ["Acute gout"] and "last paragraph" in got.note
    out = parse_output("> **Reasoning**\n> Only thinking, no answer", task="diagnosis")
    assert out.answer == "" and not out.parse_ok and out.parse_error == "the reasoning summary is followed by no answer"


@pytest.mark.parametrize(
    "title", ["Assessing the diagnosis", "Considering renal causes", "**Evaluating lab results**", "Narrowing it down"]
)
def test_summary_headings_never_become_diagnoses(title):
    assert parse_diagnoses(f"{title}\n\nSome thinking about it.\n\n{title}") == []
    assert parse_diagnoses(f"- {title}\n- Weighing the options") == []


# ----------------------------------------------------------------- plain answers: a ranked list or one diagnosis


@pytest.mark.parametrize(
    ("text", "expected", "shape"),
    [
        ("1. Gout\n2. Pseudogout\n3. Septic arthritis", ["Gout", "Pseudogout", "Septic arthritis"], "list"),
        (
            "- Cellulitis\n- Erysipelas\n- Necrotizing fasciitis",
            ["Cellulitis", "Erysipelas", "Necrotizing fasciitis"],
            "list",
        ),
        ("Gout, pseudogout, septic arthritis", ["Gout", "pseudogout", "septic arthritis"], "list"),
        ("Fructose-1,6-bisphosphatase deficiency", ["Fructose-1,6-bisphosphatase deficiency"], "single"),
        ("Type I diabetes mellitus", ["Type I diabetes mellitus"], "single"),
        ("Seminoma, stage I", ["Seminoma, stage I"], "single"),
        ("Follicular lymphoma, grade I", ["Follicular lymphoma, grade I"], "single"),
        ("Myocardial infarction with raised troponin I", ["Myocardial infarction with raised troponin I"], "single"),
        (
            "Chondrosarcoma, grade 1-2, arising in an enchondroma",
            ["Chondrosarcoma, grade 1-2, arising in an enchondroma"],
            "single",
        ),
        ("Neurofibromatosis type 1", ["Neurofibromatosis type 1"], "single"),
        (
            "Glioblastoma (IDH-wildtype, WHO grade 4), left temporal lobe, with midline shift",
            ["Glioblastoma (IDH-wildtype, WHO grade 4), left temporal lobe, with midline shift"],
            "single",
        ),
        ("Case 1: Sarcoidosis\nCase 2: Tuberculosis", ["Sarcoidosis", "Tuberculosis"], "list"),
        (
            "Infective endocarditis (Staphylococcus aureus), tricuspid valve",
            ["Infective endocarditis (Staphylococcus aureus), tricuspid valve"],
            "single",
        ),
        ("Takotsubo cardiomyopathy, likely triggered by emotional stress", ["Takotsubo cardiomyopathy"], "single"),
        ("Sarcoidosis; pulmonary tuberculosis", ["Sarcoidosis", "pulmonary tuberculosis"], "list"),
        (
            "Infective endocarditis\n\nThis is supported by fever and a new murmur.",
            ["Infective endocarditis"],
            "single",
        ),
        ("Infective endocarditis\n\n**Key supporting findings:** fever, murmur.", ["Infective endocarditis"], "single"),
    ],
)
def test_list_or_one_diagnosis(text, expected, shape):
    got = parse_answer(f"### Answer:\n{text}")
    assert (got.diagnoses, got.shape) == (expected, shape)


def test_roman_numerals_survive_everywhere():
    assert parse_diagnoses("### Answer:\nType I diabetes mellitus") == ["Type I diabetes mellitus"]
    assert parse_diagnoses("Stage I seminoma") == ["Stage I seminoma"]
    assert parse_diagnoses("1. Type II diabetes\n2. Grade I astrocytoma") == ["Type II diabetes", "Grade I astrocytoma"]
    # ... while "I" the pronoun still marks prose
    assert parse_diagnoses("I think it is gout but I cannot be sure") == []


def test_refusals_yield_nothing_and_are_flagged():
    text = "I'm sorry, but I can't provide a diagnosis. Please see a doctor, who can examine you properly."
    out = parse_output(text, task="diagnosis")
    assert out.diagnoses == [] and not out.parse_ok and out.parse_error == "no diagnosis found in the answer"
    assert out.reader == "plain" and out.trace is None


# ----------------------------------------------------------------- the registry


def test_readers_are_a_registered_ordered_list():
    names = [r.name for r in READERS]
    assert names[0] == "think_tags" and names[-1] == "plain"
    assert {"step_tagged", "reasoning_summary", "answer_section", "json", "answer_tags"} <= set(names)
    with pytest.raises(ValueError, match="registered twice"):
        reader("plain", order=1)(lambda text: None)


# ----------------------------------------------------------------- multiple choice

OPTS = ["Tuberculosis", "Lymphoma", "Pneumonia"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("A. Tuberculosis\nB. Lymphoma\nC. Pneumonia", None),  # the option list echoed back picks nothing
        ("A) Tuberculosis\nB) Lymphoma\nC) Pneumonia\n", None),
        ("- Tuberculosis\n- Lymphoma\n- Pneumonia", None),
        ("Options:\n1. Tuberculosis\n2. Lymphoma\n3. Pneumonia\n\nI pick pneumonia.", "Pneumonia"),
        ("A. Tuberculosis\nB. Lymphoma\nC. Pneumonia\n\nAnswer: C", "Pneumonia"),
        ("The answer is (C)", "Pneumonia"),
        ("**C. Pneumonia**", "Pneumonia"),
        ("Option A is unlikely without weight loss; lymphoma lacks B symptoms.\n\nAnswer: C", "Pneumonia"),
        ("Consolidation and fever favour an infection.\n\nFinal answer: Pneumonia", "Pneumonia"),
        ("I would go with pneumonia here.", "Pneumonia"),
        ("<think>TB or pneumonia?</think>\n\n### Answer:\nC. Pneumonia", "Pneumonia"),
        ("A. Tuberculosis - unlikely\nB. Lymphoma - unlikely\nC. Pneumonia - likely", None),  # no explicit pick
        ("Either tuberculosis or lymphoma", None),
        ("Consolidation on the film.\n\nThe final answer is $\\boxed{C}$", "Pneumonia"),
        ("Answer: B. Pneumonia", None),  # the letter and the name disagree: a clinician decides
        ("Answer: C. Pneumonia", "Pneumonia"),
        ("Option C", "Pneumonia"),
        ("Correct option: C", "Pneumonia"),
        ("(c)", "Pneumonia"),
        ('{"answer": "C", "reasoning": "consolidation"}', "Pneumonia"),
        ("<think>TB?</think><answer>C</answer>", "Pneumonia"),
        ("(c) or (b)", None),
    ],
)
def test_parse_choice_forms(answer, expected):
    assert parse_choice(answer, OPTS) == expected


def test_multiple_choice_echo_is_flagged_for_a_clinician():
    out = parse_output("A. Tuberculosis\nB. Lymphoma\nC. Pneumonia", task=TASK_MULTIPLE_CHOICE, options=OPTS)
    assert out.chosen_option is None and not out.parse_ok and out.parse_error == "no single option found in the answer"


# ----------------------------------------------------------------- properties over every shipped output


@cache
def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_shipped_medrbench_response_keeps_its_reasoning_and_a_verbatim_answer():
    for row in _rows(MEDRBENCH_R1):
        out = parse_output(None, task="diagnosis", trace=row["thinking_process"], answer=row["content"])
        assert out.trace.startswith(row["thinking_process"].strip())
        assert out.answer in row["content"]
        # Nothing is lost: the answer's reasoning part and the answer make up the content.
        inline = split_output(row["content"])
        assert len(inline.trace or "") + len(inline.answer) <= len(row["content"])
        assert inline.answer == out.answer and "### Answer" not in out.answer
        assert out.diagnoses and (out.parse_ok or out.parse_error)


def test_every_shipped_medrbench_answer_is_one_diagnosis_unless_it_lists_several():
    shapes = [parse_answer(row["content"]).shape for row in _rows(MEDRBENCH_R1)]
    assert shapes.count("single") >= 390 and None not in shapes


def test_every_shipped_sandmann_answer_is_answer_only_and_verbatim():
    for row in _rows(SANDMANN_OUTPUTS):
        got = parse_answer(row["output"])
        assert got.reader == "plain" and got.trace is None and got.answer == row["output"].strip()
        assert not any("assessing" in d.lower() or "considering" in d.lower() for d in got.diagnoses)


def test_think_wrapped_shipped_traces_split_back_exactly():
    for row in _rows(MEDRBENCH_R1)[:100]:
        raw = f"<think>\n{row['thinking_process']}\n</think>\n\n{row['content']}"
        got = parse_answer(raw)
        assert got.reader == "think_tags+step_tagged"
        assert got.trace.startswith(row["thinking_process"].strip()) and got.answer in row["content"]


# ----------------------------------------------------------------- a final diagnosis with a differential


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "**Diagnosis:** Community-acquired pneumonia\n**Differential:** tuberculosis, lymphoma, sarcoidosis",
            ["Community-acquired pneumonia", "tuberculosis", "lymphoma", "sarcoidosis"],
        ),
        (
            "Final diagnosis: Acute pancreatitis\n\nDifferential diagnoses:\n1. Peptic ulcer perforation\n2. Cholecystitis",
            ["Acute pancreatitis", "Peptic ulcer perforation", "Cholecystitis"],
        ),
        (  # an output that opens with its ranked list and ends naming its first item stays a list
            "1. **Acute pancreatitis** - lipase\n2. **Peptic ulcer** - pain\n\nFinal Answer: Acute pancreatitis",
            ["Acute pancreatitis", "Peptic ulcer"],
        ),
        ("The patient most likely has acute pancreatitis, given the lipase.", ["acute pancreatitis"]),
        (
            "### Answer:\n**Primary Diagnosis:** Acute intermittent porphyria\n**Secondary:** Hyponatremia due to SIADH",
            ["Acute intermittent porphyria", "Hyponatremia due to SIADH"],
        ),
        (  # a stated diagnosis, then a list of findings under "Key points:"
            "Based on the presentation, the most likely diagnosis is **acute intermittent porphyria**.\n\n"
            "Key points:\n- abdominal pain\n- dark urine",
            ["acute intermittent porphyria"],
        ),
        (
            "## Final Answer\n\nThe patient has **acute intermittent porphyria (AIP)**, precipitated by fasting.",
            ["acute intermittent porphyria (AIP)"],
        ),
        (  # bare heading lines with "Key features:" under each stay a list
            "Gout\n\nKey features: first MTP joint.\n\nPseudogout\n\nKey features: knee, older patient.\n\n"
            "Septic arthritis\n\nKey features: fever.",
            ["Gout", "Pseudogout", "Septic arthritis"],
        ),
    ],
)
def test_final_diagnosis_first_then_its_differential(text, expected):
    assert parse_diagnoses(text) == expected


# ----------------------------------------------------------------- malformed and hostile text


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   \n\n  ",
        "</think>",
        "<think></think>",
        "<think><think>nested</think></think>Gout",
        "### Answer:\n### Answer:\n### Answer:",
        "**Final Answer**",
        "<step 1>\n<step 2>\n",
        "> Reasoning\n>\n>",
        "\\boxed{",
        "Diagnosis: " * 500,
        "1. " * 2000,
        "(" * 3000 + "Gout",
        "\x00\x01 binary \ufffd junk",
        "A. Tuberculosis\nB. Lymphoma",
    ],
)
def test_malformed_outputs_never_raise_and_the_answer_is_verbatim(raw):
    got = parse_answer(raw)
    assert got.answer in raw
    assert all(isinstance(d, str) and d for d in got.diagnoses)
    out = parse_output(raw, task="diagnosis")
    assert out.parse_ok == (bool(out.diagnoses) and out.parse_error is None)
    assert parse_choice(raw, OPTS) in (*OPTS, None)


def test_medrbench_report_figures_in_the_docs():
    """docs/generation.md: 400 yield a diagnosis, 395 one / 5 a list, 2 flagged (empty answer, a bare letter)."""
    outs = [
        parse_output(None, task="diagnosis", trace=row["thinking_process"], answer=row["content"])
        for row in _rows(MEDRBENCH_R1)
    ]
    assert all(o.diagnoses for o in outs)
    assert [o.shape for o in outs].count("single") == 395
    flagged = [o for o in outs if not o.parse_ok]
    assert len(flagged) == 2 and all(o.parse_error.endswith("diagnoses taken from the reasoning") for o in flagged)
    assert sorted(o.answer for o in flagged) == ["", "A"]


# ----------------------------------------------------------------- structured and tagged answers (written for the tests)


@pytest.mark.parametrize(
    ("raw", "expected", "trace_has"),
    [
        ('{"reasoning": "Fever and RLQ pain.", "diagnoses": ["Acute appendicitis", "Mesenteric adenitis"]}',
         ["Acute appendicitis", "Mesenteric adenitis"], "RLQ pain"),
        ('Here is my answer:\n```json\n{"differential": [{"rank": 2, "diagnosis": "Pneumonia"},\n'
         ' {"rank": 1, "diagnosis": "Pulmonary embolism"}]}\n```', ["Pulmonary embolism", "Pneumonia"], "my answer"),
        ('{"Final Diagnosis": "Subarachnoid hemorrhage", "Rationale": "Thunderclap headache."}',
         ["Subarachnoid hemorrhage"], "Thunderclap"),
        ('{"response": {"thinking": "Low sodium.", "top_diagnoses": {"1": "SIADH", "2": "Hypothyroidism"}}}',
         ["SIADH", "Hypothyroidism"], "Low sodium"),
        ('["Migraine", "Tension-type headache"]', ["Migraine", "Tension-type headache"], None),
    ],
)  # fmt: skip
def test_json_answers_are_read_in_rank_order_with_their_reasoning(raw, expected, trace_has):
    got = parse_answer(raw)
    assert got.reader == "json" and got.diagnoses == expected and got.note is None
    assert (trace_has is None and got.trace is None) or trace_has in got.trace
    assert "{" not in got.answer


@pytest.mark.parametrize(
    "raw",
    [
        '{"patient_age": 54, "notes": "see above"}',  # no diagnosis field: not this format
        '{"diagnoses": ["Gout", "Pseudogout"]',  # broken JSON
        "Gout {not json}",
        "[" * 100_000 + "]" * 100_000,  # nested deeper than any parser goes
    ],
)
def test_json_without_a_diagnosis_field_or_broken_is_left_to_the_other_readers(raw):
    got = parse_answer(raw)
    assert "json" not in got.reader and got.answer == raw.strip()


def test_answer_tags_hold_the_answer_and_everything_else_is_trace():
    got = parse_answer("<think>Hyponatraemia with low osmolality.</think>\n<answer>SIADH</answer>")
    assert got.reader == "think_tags+answer_tags" and got.diagnoses == ["SIADH"] and got.answer == "SIADH"
    got = parse_answer(
        "Weighing it up.\n<answer>draft</answer>\nOn reflection:\n<ANSWER>\n1. Gout\n2. Cellulitis\n</ANSWER>"
    )
    assert got.reader == "answer_tags" and got.diagnoses == ["Gout", "Cellulitis"]
    assert "Weighing it up." in got.trace and "draft" in got.trace  # the draft is reasoning, the last tag wins


def test_medgemma_thinking_tokens_are_a_reasoning_block():
    got = parse_answer("<unused94>thought\nAn ejection murmur and syncope.\n<unused95>**Diagnosis:** Aortic stenosis")
    assert got.trace == "An ejection murmur and syncope." and got.diagnoses == ["Aortic stenosis"]
    assert got.reader.startswith("think_tags")


def test_a_markdown_table_is_read_by_its_diagnosis_column_in_rank_order():
    table = (
        "## Differential diagnosis\n\n| Rank | Diagnosis | Supporting findings |\n|:---:|---|---|\n"
        "| 2 | **Scarlet fever** | sandpaper rash |\n| 1 | Kawasaki disease | fever > 5 days |\n| 3 | Measles | |\n"
    )
    got = parse_answer(table)
    assert got.diagnoses == ["Kawasaki disease", "Scarlet fever", "Measles"] and got.shape == "list"
    # A table without a diagnosis column is not a list of diagnoses.
    labs = "| Test | Value |\n|---|---|\n| Sodium | 121 |\n| Potassium | 4.1 |\n\nDiagnosis: SIADH"
    assert parse_answer(labs).diagnoses == ["SIADH"]


GOUT = ["Gout", "Septic arthritis", "Pseudogout"]


@pytest.mark.parametrize(
    "text",
    [
        "Five preliminary diagnoses:\n1 - Gout\n2 - Septic arthritis\n3 - Pseudogout",
        "1: Gout\n2: Septic arthritis\n3: Pseudogout",
        "#1 Gout\n#2 Septic arthritis\n#3 Pseudogout",
        "1\ufe0f\u20e3 Gout\n2\ufe0f\u20e3 Septic arthritis\n3\ufe0f\u20e3 Pseudogout",
        "a) Gout\nb) Septic arthritis\nc) Pseudogout",
        "I. Gout\nII. Septic arthritis\nIII. Pseudogout",
        "First: Gout\nSecond: Septic arthritis\nThird: Pseudogout",
        "1st - Gout\n2nd - Septic arthritis\n3rd - Pseudogout",
        "<ol><li><strong>Gout</strong></li><li>Septic arthritis</li><li>Pseudogout</li></ol>",
        "Most likely diagnosis: Gout\n\nOther differentials:\n- Septic arthritis\n- Pseudogout",
        "My top diagnosis is gout, followed by septic arthritis and pseudogout.",
    ],
)
def test_other_list_markers_give_the_ranked_list(text):
    got = parse_answer(text)
    assert [d.lower() for d in got.diagnoses] == [d.lower() for d in GOUT] and got.shape == "list"


def test_number_like_lines_are_not_list_markers():
    # Times and ranges are not numbering; a lone lettered line is not a run.
    assert parse_answer("1:30 pm onset of pain\n2:15 pm vomiting\n\nDiagnosis: Biliary colic").diagnoses == [
        "Biliary colic"
    ]
    assert parse_answer("a) Gout").diagnoses != ["Gout", "Septic arthritis"]
