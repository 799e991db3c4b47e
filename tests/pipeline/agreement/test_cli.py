"""`python -m pipeline agreement` and `adjudicate`: on the study database and on a CSV of ratings."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import FinalLabel
from pipeline.cli import main
from tests.pipeline.agreement._study import build_simulated_study


@pytest.fixture
def sim_db(sqlite_engine):
    with session_scope(sqlite_engine) as session:
        sim = build_simulated_study(session)
    return str(sqlite_engine.url), sim


def test_agreement_on_study_writes_json_csv_markdown(sim_db, tmp_path, capsys):
    url, _ = sim_db
    out = tmp_path / "out"
    code = main(
        [
            "--db", url, "agreement", "--study", "agreement-sim", "--boot", "200", "--real-names",
            "--json", str(out / "a.json"), "--out-csv", str(out / "a.csv"), "--markdown", str(out / "a.md"),
        ]
    )  # fmt: skip
    assert code == 0
    screen = capsys.readouterr().out
    assert "reasoning_drift" in screen and "clinician1" in screen and "undefined" in screen
    data = json.loads((out / "a.json").read_text())
    labels = [v["label"] for v in data["variables"]]
    assert labels[:4] == ["reasoning_drift", "red_flag_failure", "priority_inversion", "other"]
    alpha = {v["label"]: v["estimates"]["alpha"]["value"] for v in data["variables"] if v["scope"] == "error_mode"}
    assert alpha["reasoning_drift"] > alpha["red_flag_failure"] > alpha["priority_inversion"]
    frame = pd.read_csv(out / "a.csv")
    assert {"value", "ci_low", "ci_high", "n_cases", "n_ratings", "prevalence"} <= set(frame.columns)
    assert "Krippendorff" in (out / "a.md").read_text()


def test_agreement_pseudonymised_by_default(sim_db, tmp_path, capsys):
    url, _ = sim_db
    out = tmp_path / "a.json"
    # The only study is taken without --study; annotators are pseudonyms unless --real-names, like export.
    assert main(["--db", url, "agreement", "--boot", "0", "--json", str(out)]) == 0
    screen = capsys.readouterr().out
    assert "clinician1" not in screen and " A │" in screen and " C │" in screen
    assert "clinician1" not in out.read_text("utf-8")


def test_agreement_on_csv(tmp_path, capsys):
    p = tmp_path / "export.csv"
    rows = ["item,rater,label"]
    for i in range(30):
        for r in ("x", "y"):
            rows.append(f"{i},{r},{'yes' if (i % 3 == 0) != (r == 'y' and i % 10 == 0) else 'no'}")
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "r.json"
    assert main(["agreement", "--csv", str(p), "--boot", "100", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [v["label"] for v in data["variables"]][:2] == ["no", "yes"]
    assert data["n_items"] == 30 and data["n_ratings"] == 60


def test_agreement_analytic_figures_and_pairs_with_too_few_items(tmp_path, capsys):
    # Two raters share 30 items; a third joins on 4 only (fewer than --min-items 10): its pairs say
    # "too few items (4)" in the % agree column, never "nan". --analytic prints SE, z and p.
    p = tmp_path / "ratings.csv"
    rows = ["item,rater,label"]
    for i in range(30):
        for r in ("x", "y") + (("z",) if i < 4 else ()):
            rows.append(f"{i},{r},{'yes' if (i % 3 == 0) != (r == 'y' and i % 10 == 0) else 'no'}")
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out_csv, out_md = tmp_path / "a.csv", tmp_path / "a.md"
    args = ["agreement", "--csv", str(p), "--boot", "100", "--analytic", "--out-csv", str(out_csv)]
    assert main([*args, "--markdown", str(out_md)]) == 0
    screen = capsys.readouterr().out
    assert "too few items (4)" in screen and not re.search(r"\bnan\b", screen)
    assert "Analytic figures" in screen and "Conger's κ" in screen
    frame = pd.read_csv(out_csv)
    assert {"se", "z", "p_value", "ase_ci_low", "ase_ci_high", "se_method"} <= set(frame.columns)
    fleiss = frame[(frame["statistic"] == "fleiss_kappa") & (frame["label"] == "yes")].iloc[0]
    assert fleiss["se"] > 0 and fleiss["ase_ci_low"] < fleiss["value"] < fleiss["ase_ci_high"]
    assert "mix" not in str(fleiss["undefined_reason"])  # 2 and 3 raters: defined (Gwet's generalisation)
    md = out_md.read_text()
    assert "too few items (4)" in md and "Analytic standard errors" in md


def test_agreement_bad_input_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("item,rater,label\n1,,x\n", encoding="utf-8")
    assert main(["agreement", "--csv", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {bad}:2: rater: empty"
    assert main(["agreement", "--csv", str(bad), "--boot", "-1"]) == 2
    assert "--boot -1" in capsys.readouterr().err
    assert main(["agreement", "--csv", str(bad), "--level", "95"]) == 2
    assert "--level 95.0: must be between 0 and 1" in capsys.readouterr().err


def test_adjudicate_cli_settle_list_set_export(sim_db, sqlite_engine, tmp_path, capsys):
    url, sim = sim_db
    assert main(["--db", url, "adjudicate", "--study", "agreement-sim", "--settle"]) == 0
    assert "waiting for adjudication" in " ".join(capsys.readouterr().out.split())  # rich wraps lines
    assert main(["--db", url, "adjudicate", "--study", "agreement-sim", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "A: " in listed and "clinician" not in listed
    with session_scope(sqlite_engine) as s:
        from pipeline.agreement import disagreements

        rid = disagreements(s, sim.study_id)[0].response_id
    code = main(
        ["--db", url, "adjudicate", "--study", "agreement-sim", "--response", str(rid),
         "--labels", "reasoning_drift", "--as", "studylead", "--rationale", "drift from step 2"]
    )  # fmt: skip
    assert code == 0
    assert "adjudicated by studylead" in " ".join(capsys.readouterr().out.split())
    with session_scope(sqlite_engine) as s:
        f = s.exec(select(FinalLabel).where(FinalLabel.response_id == rid)).one()
        assert f.method == "adjudicated" and f.error_modes == ["reasoning_drift"]
    # A non-lead cannot adjudicate: one line, exit 2, nothing written.
    code = main(
        ["--db", url, "adjudicate", "--study", "agreement-sim", "--response", str(rid),
         "--labels", "other", "--as", "clinician1"]
    )  # fmt: skip
    assert code == 2 and "not a lead" in capsys.readouterr().err
    out = tmp_path / "final.csv"
    assert main(["--db", url, "adjudicate", "--study", "agreement-sim", "--export", str(out)]) == 0
    frame = pd.read_csv(out)
    assert set(frame["method"]) == {"unanimous", "majority", "adjudicated"}
