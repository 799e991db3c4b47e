"""The report agrees with itself and with the statistics API: one settled set, the same counts in every
section, and paper tables whose numbers are those the accuracy and prevalence functions return."""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
import pytest

from db.engine import make_engine, session_scope
from db.migrate import upgrade
from pipeline.accuracy import effective_grades, study_accuracy, study_case_sets
from pipeline.accuracy._match import GRADER_VERSION
from pipeline.report import (
    Chart,
    Paragraph,
    Table,
    build_report,
    flow_counts,
    latex_escape,
    paper_files,
    prevalence,
    rank_summaries,
    table_latex,
    write_report,
)
from pipeline.report._build import _plain
from tests.pipeline.export.study import build_labelled_study

SETTLED = re.compile(r"The settled set: (\d+) response\(s\)")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The labelled study (real shipped responses, real annotation code), not clustered."""
    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('consistency') / 'study.db'}")
    upgrade(eng)
    with session_scope(eng) as s:
        study = build_labelled_study(s, n_r1=30)
        study_id = study.id
    with session_scope(eng) as s:
        report = build_report(s, study_id, n_boot=50)
    yield eng, study_id, report
    eng.dispose()


def _table(report, section: str, caption_start: str) -> Table:
    tables = [
        b
        for b in report.section(section).blocks
        if isinstance(b, Table) and (b.caption or "").startswith(caption_start)
    ]
    assert tables, f"{section}: no table {caption_start!r}"
    return tables[0]


def _tables(report, section: str, caption_start: str) -> list[Table]:
    return [
        b
        for b in report.section(section).blocks
        if isinstance(b, Table) and (b.caption or "").startswith(caption_start)
    ]


def _texts(report) -> list[str]:
    return [b.text for s in report.sections for b in s.blocks if isinstance(b, Paragraph)] + list(report.summary)


def test_one_settled_set_everywhere(study):
    _, _, report = study
    sizes = {int(m.group(1)) for text in _texts(report) for m in SETTLED.finditer(text)}
    assert len(sizes) == 1, sizes  # every statement of the settled set names the same size
    (n,) = sizes
    assert n > 0
    for sid in ("design", "flow", "prevalence", "exemplars"):
        assert any(SETTLED.search(b.text) for b in report.section(sid).blocks if isinstance(b, Paragraph)), sid
    assert any(f"{n} incorrect responses are settled" in line for line in report.summary)

    flow = _table(report, "flow", "Flow of responses").data.set_index("model")
    prev = _table(report, "prevalence", "Error modes per model")
    cols = prev.columns
    for row in prev.rows:
        model = row[0]
        assert int(row[cols.index("Settled")]) == flow.loc[model, "settled"], model
        assert int(row[cols.index("Incorrect")]) == flow.loc[model, "incorrect"], model
    assert flow.loc["All models", "settled"] == n


def test_error_mode_counts_agree_across_sections(study):
    _, _, report = study
    prev = _table(report, "prevalence", "Error modes per model")
    all_models = next(r for r in prev.rows if r[0] == "All models")
    k_by_name = {
        c: int(cell.rsplit(" ", 1)[1].split("/")[0]) for c, cell in zip(prev.columns[3:], all_models[3:], strict=True)
    }
    # Co-occurrence diagonal: responses with the mode at all.
    co = _table(report, "prevalence", "Settled responses with both modes")
    for i, row in enumerate(co.rows):
        assert int(row[i + 1]) == k_by_name[row[0]], row[0]
    # The exemplar section's count of each mode is the prevalence count.
    counted = {}
    for b in report.section("exemplars").blocks:
        if isinstance(b, Paragraph):
            m = re.match(r"(\d+) settled response\(s\) have '(.+?)' in their final label", b.text)
            if m:
                counted[m.group(2)] = int(m.group(1))
            m = re.match(r"No response of the settled set has '(.+?)'", b.text)
            if m:
                counted[m.group(1)] = 0
    assert counted, "the exemplar section states no counts"
    for name, k in counted.items():
        assert k == k_by_name[name], name
    # The red-flag mode is settled on answers without traces too: the count still matches prevalence.
    assert counted["Red-flag recognition failure"] == k_by_name["Red-flag recognition failure"] > 0


def test_accuracy_counts_match_the_flow(study):
    eng, study_id, report = study
    flow = _table(report, "flow", "Flow of responses").data.set_index("model")
    correct, pending, graded = {}, {}, {}
    for table in _tables(report, "accuracy", "Top-5 accuracy per model"):
        for r in table.data.itertuples():
            correct[r.model] = correct.get(r.model, 0) + r.correct
            pending[r.model] = pending.get(r.model, 0) + r.pending
            graded[r.model] = graded.get(r.model, 0) + r.n
    for model in correct:  # one repeat in this study, so the accuracy tables cover every response
        assert correct[model] == flow.loc[model, "correct"], model
        assert pending[model] == flow.loc[model, "pending"], model
        assert graded[model] == flow.loc[model, "correct"] + flow.loc[model, "incorrect"], model
    # Within a case set, the matrix's overall column and the rank table repeat the model table's figure.
    for main in _tables(report, "accuracy", "Top-5 accuracy per model"):
        case_set = main.caption.split(" on ", 1)[1].split(" ", 1)[0]
        shown = {row[0]: row[3] for row in main.rows}
        for matrix in _tables(report, "accuracy", "Accuracy by model and"):
            if f" on {case_set} " in matrix.caption:
                for row in matrix.rows:
                    assert row[-1] == shown[row[0]], (matrix.caption, row[0])
        for ranks in _tables(report, "accuracy", "Top-1 accuracy"):
            if f" on {case_set} " in ranks.caption:
                for row in ranks.rows:
                    assert row[2] == shown[row[0]], row[0]


def test_flow_counts_add_up(study):
    _, _, report = study
    flow = _table(report, "flow", "Flow of responses").data
    for r in flow.itertuples():
        assert r.auto + r.clinician + r.pending + r.ungraded == r.responses
        assert r.correct + r.incorrect + r.pending + r.ungraded == r.responses
        assert r.settled <= r.labelled <= r.incorrect and r.with_trace <= r.incorrect
    models = flow[flow["model"] != "All models"]
    total = flow[flow["model"] == "All models"].iloc[0]
    for col in flow.columns[1:]:
        assert models[col].sum() == total[col], col


def test_flow_counts_pure():
    grades = pd.DataFrame(
        {
            "response_id": [1, 2, 3, 4, 5],
            "model": ["A", "A", "A", "B", "B"],
            "status": ["auto", "auto", "pending", "clinician", "ungraded"],
            "correct": pd.array([True, False, None, False, None], dtype="boolean"),
        }
    )
    flow = flow_counts(grades, with_trace={2}, labelled={2, 4}, settled={4, 99}).set_index("model")
    assert flow.loc["A"].to_dict() == {"responses": 3, "auto": 2, "clinician": 0, "pending": 1, "ungraded": 0,
                                       "correct": 1, "incorrect": 1, "with_trace": 1, "labelled": 1, "settled": 0}  # fmt: skip
    assert flow.loc["B", "settled"] == 1 and flow.loc["All models", "responses"] == 5


def test_rank_summaries_pure():
    grades = pd.DataFrame(
        {
            "model": ["A"] * 5,
            "correct": pd.array([True, True, True, False, None], dtype="boolean"),
            "rank": pd.array([1, 3, None, None, None], dtype="Int64"),
        }
    )
    (s,) = rank_summaries(grades, ranks=5)
    assert s.n == 4 and s.top_k.successes == 3 and s.top_1.successes == 1
    assert s.at_rank == {1: 1, 2: 0, 3: 1, 4: 0, 5: 0} and s.rank_unknown == 1 and s.mean_rank == 2.0
    assert s.share(1) == 0.25


def test_paper_tables_match_the_statistics_api(study, tmp_path):
    eng, study_id, _ = study
    with session_scope(eng) as s:
        written = write_report(s, study_id, tmp_path / "out", n_boot=50)
        paper = tmp_path / "out" / "paper"
        assert paper in written and paper.is_dir()
        grades = effective_grades(s, study_id)
        for case_set in study_case_sets(s, study_id):
            api = study_accuracy(s, study_id, case_set=case_set, correction="holm")
            overall = {r.model: r.accuracy for r in api.models if r.subgroup == "overall"}
            (main,) = [
                p
                for p in _for_case_set(paper, case_set)
                if p.name.startswith("accuracy-") and "top-5-accuracy-per-model" in p.name
            ]
            main = main.with_name(main.stem + "_data.csv")
            frame = pd.read_csv(main)
            assert set(frame["model"]) == set(overall)
            for r in frame.itertuples():
                a = overall[r.model]
                assert (r.n, r.correct) == (a.n, a.successes)
                assert (r.accuracy, r.ci_lower, r.ci_upper) == pytest.approx((a.estimate, a.lower, a.upper))
            wrong = study_accuracy(s, study_id, case_set=case_set, pending="incorrect", pairs=(), subgroups=())
            right = study_accuracy(s, study_id, case_set=case_set, pending="correct", pairs=(), subgroups=())
            for r in frame.itertuples():
                w = next(x.accuracy for x in wrong.models if x.model == r.model)
                c = next(x.accuracy for x in right.models if x.model == r.model)
                assert r.accuracy_pending_wrong == pytest.approx(w.estimate)
                assert r.accuracy_pending_right == pytest.approx(c.estimate)
            if api.pairs:
                (pairs,) = [p for p in _for_case_set(paper, case_set) if "paired-comparisons" in p.name]
                pairs = pairs.with_name(pairs.stem + "_data.csv")
                frame = pd.read_csv(pairs)
                assert len(frame) == len(api.pairs)
                for r, a in zip(frame.itertuples(), api.pairs, strict=True):
                    assert (r.subgroup, r.level, r.b, r.c) == (a.subgroup, a.level, a.counts.b, a.counts.c)
                    assert r.p == pytest.approx(a.test.p_value) and r.p_holm == pytest.approx(a.p_adjusted)
                    assert r.p_holm >= r.p - 1e-12  # Holm never lowers a p-value
            (ranks,) = [p for p in _for_case_set(paper, case_set) if "rank-of-the-correct" in p.name]
            ranks = ranks.with_name(ranks.stem + "_data.csv")
            frame = pd.read_csv(ranks).set_index("model")
            mine = grades[(grades["case_set"] == case_set) & (grades["repeat"] == 0) & (grades["status"] != "ungraded")]
            for r in rank_summaries(mine, conf_level=api.conf_level):
                assert frame.loc[r.model, "n"] == r.n and frame.loc[r.model, "rank_1"] == r.at_rank[1]
                assert frame.loc[r.model, "top_1"] == pytest.approx(r.top_1.estimate)
                assert frame.loc[r.model, "top_1"] <= frame.loc[r.model, "top_k"]
        # Prevalence numbers: those of the pure prevalence() on the settled set.
        prev = pd.read_csv(next(paper.glob("prevalence-01-*_data.csv")))
        for r in prev.itertuples():
            p = prevalence(int(r.k), int(r.n))
            assert (r.estimate, r.lower, r.upper) == pytest.approx((p.estimate, p.lower, p.upper))
        assert len(grades)


def _for_case_set(paper, case_set: str) -> list:
    """The paper files of one case set: their README line names it."""
    index = (paper / "README.md").read_text("utf-8").splitlines()
    named = re.compile(rf" on {re.escape(case_set)}[ ,]")
    return [paper / line.split("`")[1] for line in index if line.startswith("- `") and named.search(line)]


def test_paper_folder_files(study, tmp_path):
    eng, study_id, report = study
    out = paper_files(report, ["Methods one.", "Methods two."])
    names = set(out.files)
    tables = [b for s in report.sections for b in s.blocks if isinstance(b, Table)]
    charts = [b for s in report.sections for b in s.blocks if isinstance(b, Chart)]
    assert sum(n.endswith(".tex") for n in names) == len(tables)
    assert sum(n.endswith(".csv") and not n.endswith("_data.csv") for n in names) == len(tables)
    assert not out.warnings, out.warnings  # Chromium is installed on every test machine (./run test)
    assert sum(n.endswith(".svg") for n in names) == sum(n.endswith(".png") for n in names) == len(charts)
    for name, data in out.files.items():
        if name.endswith(".svg"):
            # Every chart has a legend; a heatmap's is its colour bar.
            assert data.lstrip().startswith(b"<svg") and (b'class="legend"' in data or b"colorbar" in data), name
        if name.endswith(".png"):
            assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        if name.endswith(".tex"):
            text = data.decode("utf-8")
            assert "\\toprule" in text and "\\midrule" in text and "\\bottomrule" in text
            assert re.search(r"(?<!\\)%", text.split("\n", 1)[1]) is None, name  # every % escaped
        if name.endswith(".csv") and not name.endswith("_data.csv"):
            tex = name[:-4] + ".tex"
            assert tex in names
            rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
            table = next(t for t in tables if t.columns == rows[0] and t.rows == rows[1:])
            assert table is not None
    assert out.files["methods.md"].decode() == "Methods one.\n\nMethods two.\n"
    assert "methods.md" in out.files["README.md"].decode()


def test_latex_escaping():
    assert latex_escape("50% & a_b #1 {x} ~ ^ \\ α ≥ 0.8 – <b>") == (
        r"50\% \& a\_b \#1 \{x\} \textasciitilde{} \textasciicircum{} \textbackslash{} $\alpha$ $\geq$ 0.8 -- "
        r"\textless{}b\textgreater{}"
    )
    tex = table_latex(Table(["Model", "Acc %"], [["R1", "50% (40 to 60)"]], caption="A_b"), "t-1")
    assert "\\begin{tabular}{lr}" in tex and "\\caption{A\\_b}" in tex and "R1 & 50\\% (40 to 60) \\\\" in tex


def test_methods_paragraph_says_what_ran(study):
    _, _, report = study
    text = " ".join(b.text for b in report.section("methods").blocks if isinstance(b, Paragraph) and b.kind == "text")
    for expected in (
        "DeepSeek-R1",
        "paired with its base model DeepSeek-V3",
        "temperature 0.6",
        "first 5 diagnoses",
        GRADER_VERSION,
        "at least 0.9",
        "Holm",
        "significance level, from the study file, is 0.01",
        "codebook version",
        "Krippendorff",
        "3 clinician annotator(s)",
    ):
        assert expected in text, expected


def test_vignette_markdown_is_shown_as_plain_text():
    assert _plain("**History:** fever for __three__ days, *acute* onset; 2*3*4 stays") == (
        "History: fever for three days, acute onset; 2*3*4 stays"
    )
    assert _plain("## Findings\nCT: normal") == "Findings\nCT: normal"


def test_grader_validation_matches_the_grade_check(study):
    """The accuracy section shows the grade-check against the study's imported reference labels, with the
    same counts that `grade-check` computes."""
    from pipeline.accuracy import report_grade_check

    eng, study_id, report = study
    table = _table(report, "accuracy", "Automatic grade (rows) against the reference")
    with session_scope(eng) as s:
        check = report_grade_check(s, study_id)
    assert check is not None and check.n > 0
    shown = {row[0]: [int(c) for c in row[1:]] for row in table.rows}
    expected = check.confusion()
    for auto in ("correct", "incorrect", "pending"):
        assert shown[auto] == [int(expected.loc[auto, "correct"]), int(expected.loc[auto, "incorrect"])], auto
    texts = _texts(report)
    assert any(t.startswith(f"{check.n} response(s) with reference") for t in texts)
    assert any("grade-check --study" in t for t in texts)
    assert _table(report, "accuracy", "Agreement per grading tier").rows
