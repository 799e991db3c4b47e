"""The study table from a plain CSV: pure builder, outputs, forest plot, CLI and its bad-input messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.accuracy import NO_DISCORDANT, accuracy_report, forest_plot, read_results_csv
from pipeline.cli import main
from pipeline.errors import InputError


def _bentur_csv(path: Path) -> Path:
    """Fagerland et al. 2013's example as per-case results: 1 both, 1 only A, 7 only B, 12 neither."""
    rows = ["case,model,correct,ward"]
    cells = [(1, 1)] * 1 + [(1, 0)] * 1 + [(0, 1)] * 7 + [(0, 0)] * 12
    for i, (a, b) in enumerate(cells):
        ward = "north" if i % 2 else "south"
        rows += [f"c{i},A,{a},{ward}", f"c{i},B,{'yes' if b else 'no'},{ward}"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_report_from_csv_reproduces_published_mcnemar(tmp_path):
    frame = read_results_csv(_bentur_csv(tmp_path / "r.csv"))
    report = accuracy_report(frame, [("A", "B")], subgroups=["ward"], test="mid-p", alpha=0.05)
    overall = report.pairs[0]
    assert (overall.counts.b, overall.counts.c) == (1, 7)
    assert round(overall.test.p_value, 3) == 0.039  # Fagerland, Lydersen & Laake 2013, mid-p
    assert overall.significant is True
    assert overall.accuracy_a.successes == 2 and overall.accuracy_b.successes == 8
    assert [r.level for r in report.pairs[1:]] == ["north", "south"]
    assert report.to_frame().shape[0] == 3 and report.to_frame("models").shape[0] == 6


def test_degenerate_and_empty_tables_are_reported(tmp_path):
    frame = pd.DataFrame(
        {
            "case": ["1", "1", "2", "2", "3"],
            "model": ["A", "B", "A", "B", "A"],
            "correct": [True, True, False, False, True],
            "site": ["x", "x", "x", "x", "y"],
        }
    )
    report = accuracy_report(frame, [("A", "B")], subgroups=["site"], correction="holm")
    overall, x, y = report.pairs
    assert overall.note == NO_DISCORDANT and overall.significant is None and overall.p_adjusted is None
    assert y.note == "no cases" and y.accuracy_a.estimate is None
    assert "no discordant pairs" in report.to_markdown()


def test_correction_across_pairs(tmp_path):
    rows = []
    for i in range(30):
        rows.append({"case": i, "model": "A", "correct": True})
        rows.append({"case": i, "model": "B", "correct": i < 20})  # A better on 10 cases
        rows.append({"case": i, "model": "C", "correct": i < 28})  # A better on 2 cases
    frame = pd.DataFrame(rows)
    plain = accuracy_report(frame, [("A", "B"), ("A", "C")], subgroups=())
    holm = accuracy_report(frame, [("A", "B"), ("A", "C")], subgroups=(), correction="holm")
    # Exact McNemar with b = 10, c = 0: p = 2 * 0.5**10; Holm multiplies the smallest p by m = 2.
    assert plain.pairs[0].test.p_value == pytest.approx(2 * 0.5**10)
    assert holm.pairs[0].p_adjusted == pytest.approx(2 * 2 * 0.5**10)
    # b = 2, c = 0: p = 2 * 0.5**2 = 0.5; the second-smallest is multiplied by m - 1 = 1.
    assert holm.pairs[1].p_adjusted == pytest.approx(0.5)


def test_outputs_and_forest_plot(tmp_path):
    frame = read_results_csv(_bentur_csv(tmp_path / "r.csv"))
    report = accuracy_report(frame, [("A", "B")], subgroups=["ward"])
    written = report.write(tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == [
        "accuracy.json",
        "accuracy.md",
        "accuracy_forest.html",
        "accuracy_models.csv",
        "accuracy_pairs.csv",
    ]
    data = json.loads((tmp_path / "out" / "accuracy.json").read_text())
    assert data["pairs"][0]["counts"] == {"both": 1, "b": 1, "c": 7, "neither": 12}
    pairs = pd.read_csv(tmp_path / "out" / "accuracy_pairs.csv")
    assert pairs.loc[0, "b"] == 1 and pairs.loc[0, "c"] == 7 and pairs.loc[0, "subgroup"] == "overall"
    fig = forest_plot(report)
    assert len(fig.data) == 2  # one trace per model
    assert max(fig.data[0].x) <= 100
    html = (tmp_path / "out" / "accuracy_forest.html").read_text()
    assert '<script src="http' not in html and "Plotly" in html  # plotly.js is embedded: opens offline


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("case,model\nc1,A\n", "r.csv:1: correct: missing column"),
        ("case,model,correct\nc1,A,maybe\n", "r.csv:2: correct: 'maybe' is not 1/0"),
        ("case,model,correct\nc1,A,1\nc1,A,0\n", "r.csv:3: case: case 'c1' for model 'A' already on line 2"),
        ("case,model,correct\nc1,A\n", "r.csv:2: expected 3 fields, found 2"),
        ("case,model,correct\n,A,1\n", "r.csv:2: case: empty"),
        ("", "r.csv: the file is empty"),
    ],
)
def test_bad_csv_names_file_line_and_field(tmp_path, content, message):
    path = tmp_path / "r.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_results_csv(path)
    assert message in str(exc.value).replace(str(tmp_path) + "/", "")


def test_cli_accuracy_from_csv(tmp_path, capsys):
    path = _bentur_csv(tmp_path / "r.csv")
    out = tmp_path / "out"
    code = main(["accuracy", "--csv", str(path), "--subgroup", "ward", "--test", "chi2", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "A vs B" in text and "0.034" in text  # Fagerland et al. 2013: asymptotic McNemar P = 0.034
    assert (out / "accuracy.md").exists() and (out / "accuracy_pairs.csv").exists()


def test_cli_accuracy_bad_input_is_one_line(tmp_path, capsys):
    path = tmp_path / "r.csv"
    path.write_text("case,model,correct\nc1,A,perhaps\n", encoding="utf-8")
    assert main(["accuracy", "--csv", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "r.csv:2: correct:" in err and "Traceback" not in err
    assert main(["accuracy", "--csv", str(tmp_path / "none.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    good = _bentur_csv(tmp_path / "g.csv")
    assert main(["accuracy", "--csv", str(good), "--subgroup", "floor"]) == 2
    assert "no column floor" in capsys.readouterr().err
    assert main(["accuracy", "--csv", str(good), "--pair", "A:Z"]) == 2
    assert "no model 'Z'" in capsys.readouterr().err


def test_cli_grade_and_accuracy_on_a_study(tmp_path, capsys):
    from db.engine import make_engine, session_scope
    from db.migrate import upgrade
    from tests.factories import add_sandmann_outputs, make_study

    url = f"sqlite:///{tmp_path / 'study.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        study = make_study(session, "sandmann")
        add_sandmann_outputs(session, study, models=["DeepSeek-R1", "DeepSeek-V3"])
    engine.dispose()
    assert main(["--db", url, "grade", "--study", "sandmann", "--no-embeddings"]) == 0
    text = capsys.readouterr().out
    assert "graded 250 response(s)" in text
    assert main(["--db", url, "accuracy", "--study", "sandmann", "--pair", "DeepSeek-R1:DeepSeek-V3"]) == 0
    text = capsys.readouterr().out
    assert "DeepSeek-R1" in text and "DeepSeek-V3" in text and "Rare" in text and "Paired comparisons" in text
    assert main(["--db", url, "grade", "--study", "nope"]) == 2
    assert "no study 'nope'" in capsys.readouterr().err
