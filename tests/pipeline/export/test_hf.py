"""The Hugging Face export: a folder that the real `datasets` library reads as is (offline)."""

from __future__ import annotations

import json
import os

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import FinalLabel
from pipeline.cli import main
from pipeline.export import MANIFEST_FILE, TABLES, export_study, manifest_schema
from tests.pipeline.export.study import build_labelled_study, response_count

datasets = pytest.importorskip("datasets")


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


def test_load_dataset_reads_every_table_as_is(sqlite_engine, tmp_path):
    with session_scope(sqlite_engine) as s:
        study = build_labelled_study(s, n_r1=20)
        summary = export_study(s, study.id, tmp_path / "exp", formats=["jsonl", "hf"])
        n = response_count(s, study.id)
        n_final = len(s.exec(select(FinalLabel)).all())
    hf = tmp_path / "exp" / "hf"
    assert not (tmp_path / "exp" / "tables").exists()  # only what was asked for
    cache = str(tmp_path / "hf-cache")
    responses = datasets.load_dataset(
        "parquet", data_files=str(hf / "data" / "responses.parquet"), split="train", cache_dir=cache
    )
    assert responses.num_rows == n
    row = next(r for r in responses if r["trace"])
    assert row["vignette"] and row["gold_diagnosis"] and isinstance(row["diagnoses"], list)
    assert {"final_reasoning_drift", "correct", "key", "model"} <= set(responses.column_names)
    finals = datasets.load_dataset(
        "parquet", data_files=str(hf / "data" / "final_labels.parquet"), split="train", cache_dir=cache
    )
    assert finals.num_rows == n_final
    # The dataset card's configs let the folder itself be loaded, table by table.
    by_card = datasets.load_dataset(str(hf), "annotations", split="train", cache_dir=cache)
    assert by_card.num_rows == summary.counts["annotations"]
    card = (hf / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nconfigs:\n") and all(f"data/{t}.parquet" in card for t in TABLES)
    assert "medrbench" in card and "licence" in card
    # Every file is in the manifest with its checksum, and the manifest is valid.
    manifest = json.loads((tmp_path / "exp" / MANIFEST_FILE).read_text("utf-8"))
    assert {f"hf/data/{t}.parquet" for t in TABLES} | {"hf/README.md"} <= set(manifest["files"])
    import jsonschema

    jsonschema.validate(manifest, manifest_schema())


def test_cli_hf_format(sqlite_engine, tmp_path, capsys):
    with session_scope(sqlite_engine) as s:
        study = build_labelled_study(s, n_r1=10)
        name = study.name
    out = tmp_path / "out"
    code = main(["export", "--study", name, "--out", str(out), "--format", "hf", "--db", str(sqlite_engine.url)])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (out / "hf" / "data").iterdir()) == sorted(f"{t}.parquet" for t in TABLES)
    assert os.path.exists(out / MANIFEST_FILE)
