"""The lead's Reports and exports page: the report and the exports offered for download."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from annotator.registry import views_for
from annotator.views.reports import build_export_zip, build_report_files, file_stem
from db.engine import make_engine, session_scope
from db.migrate import upgrade
from pipeline.export import MANIFEST_FILE, RECORDS_FILE
from tests.annotator.conftest import sign_in
from tests.pipeline.export.study import ANNOTATORS, LEAD, PASSWORD, build_labelled_study


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('reports-view') / 'study.db'}")
    upgrade(eng)
    with session_scope(eng) as s:
        study_id = build_labelled_study(s, n_r1=20).id
    yield eng, study_id
    eng.dispose()


def test_only_leads_get_the_page():
    assert "reports" in {v.slug for v in views_for("lead")}
    assert "reports" not in {v.slug for v in views_for("annotator")}


def test_plain_functions(study_db):
    engine, study_id = study_db
    files = build_report_files(engine, study_id, n_boot=50)
    assert files["report.html"].startswith(b"<!DOCTYPE html>") and b"Exemplars per error mode" in files["report.html"]
    assert files["missing"] == [("Clusters of reasoning traces", "the traces have not been clustered")]
    data, summary = build_export_zip(engine, study_id, models=["DeepSeek-V3"], formats=["jsonl", "parquet"])
    archive = zipfile.ZipFile(io.BytesIO(data))
    records = [json.loads(x) for x in archive.read(RECORDS_FILE).decode().splitlines()]
    assert records and {r["model"]["name"] for r in records} == {"DeepSeek-V3"}
    assert "tables/annotations.parquet" in archive.namelist() and "tables/annotations.csv" not in archive.namelist()
    assert json.loads(archive.read(MANIFEST_FILE))["pseudonymised"] is True
    assert "exported study 'labelled-study'" in summary
    assert file_stem("Sandmann / R1 vs V3") == "Sandmann_R1_vs_V3"


def test_lead_downloads_report_and_export(study_db, make_app):
    engine, _ = study_db
    at = sign_in(make_app(engine, "reports"), LEAD, PASSWORD)
    assert at.title[0].value == "Reports and exports"
    assert not at.get("download_button")
    at.button(key="reports_build").click().run(timeout=180)
    assert not at.exception, at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Report (HTML)", "Report (Markdown)"]
    assert any("Clusters of reasoning traces" in w.value for w in at.warning)
    at.multiselect(key="reports_models").set_value(["DeepSeek-R1"])
    at.multiselect(key="reports_adjudication").set_value(["adjudicated"])
    submit = next(b for b in at.button if b.label == "Build the export")
    submit.click().run(timeout=120)
    assert not at.exception, at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Export (zip)" in labels
    page = " ".join(c.value for c in at.caption)
    assert "models=DeepSeek-R1" in page and "adjudication=adjudicated" in page
    # Nobody is named on the page.
    for name in ANNOTATORS:
        assert name not in page
