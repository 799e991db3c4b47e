"""The Hugging Face-readable part of an export: `hf/data/<table>.parquet` and a dataset card `hf/README.md`.

`datasets.load_dataset("parquet", data_files="hf/data/responses.parquet")` reads a table as is, and
`datasets.load_dataset("<export>/hf", "responses")` finds every table through the card's `configs`.
The responses table carries the vignette and options too, so the traces can be read with their case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from pipeline.export._tables import TABLES, TableWriter

HF_DIR = "hf"
CARD_FILE = f"{HF_DIR}/README.md"


def _with_case_text(table: pa.Table, records: list[dict]) -> pa.Table:
    """The responses table plus each case's vignette and options (records and table rows are in one order)."""
    vignettes = pa.array([r["case"]["vignette"] for r in records], type=pa.string())
    options = pa.array([r["case"].get("options") for r in records], type=pa.list_(pa.string()))
    at = table.column_names.index("gold_diagnosis") if "gold_diagnosis" in table.column_names else table.num_columns
    table = table.add_column(at, "vignette", vignettes)
    return table.add_column(at + 1, "options", options)


def _yaml_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def dataset_card(manifest: dict, rows: dict[str, int]) -> str:
    """README.md with the YAML header the datasets library reads (configs), and what the data is."""
    study = manifest["study"]
    lines = ["---", "configs:"]
    for name in TABLES:
        lines += [f"- config_name: {name}", f"  data_files: data/{name}.parquet"]
        if name == "responses":
            lines.append("  default: true")
    lines += ["license: other", "tags:", "- clinical-reasoning", "- dxtrace", "---", ""]
    lines += [f"# {study['name']}: labelled diagnostic reasoning traces (DxTrace export)", ""]
    if study.get("description"):
        lines += [study["description"], ""]
    lines += [
        "Written by DxTrace; the columns are described in DxTrace's docs/export-format.md.",
        "Annotators are " + ("pseudonymised (A1, A2, ...)." if manifest.get("pseudonymised") else "named."),
        "",
        "| table | rows |",
        "|---|---|",
        *[f"| `{name}` | {rows.get(name, 0)} |" for name in TABLES],
        "",
        "## Case sets and their licences",
        "",
    ]
    for cs in manifest.get("case_sets", []):
        licence, credit = cs.get("licence") or "not stated", cs.get("attribution") or "not stated"
        lines.append(f"- **{cs['name']}** ({cs['task']}): licence: {licence}; attribution: {credit}")
    lines += [
        "",
        "The licence of this dataset is that of its case sets (above) and of the models' outputs: check both "
        "before publishing.",
        "",
        "```python",
        "from datasets import load_dataset",
        f"responses = load_dataset({_yaml_text('parquet')}, data_files={_yaml_text('data/responses.parquet')})",
        "```",
        "",
    ]
    return "\n".join(lines)


class HfWriter:
    """hf/data/*.parquet written chunk by chunk, and hf/README.md once the row counts are known."""

    def __init__(self, staging: Path, schemas: dict[str, pa.Schema]) -> None:
        self.staging = staging
        (staging / HF_DIR / "data").mkdir(parents=True)
        self.writers: dict[str, TableWriter] = {}
        for name in TABLES:
            schema = schemas[name]
            if name == "responses":
                schema = _with_case_text(schema.empty_table(), []).schema
            self.writers[name] = TableWriter(staging / f"{HF_DIR}/data/{name}.parquet", schema, "parquet")

    def write(self, tables: dict[str, pa.Table], records: list[dict]) -> None:
        for name in TABLES:
            table = _with_case_text(tables[name], records) if name == "responses" else tables[name]
            self.writers[name].write(table)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()

    def finish(self, manifest: dict) -> dict[str, int]:
        """Close the tables, write the card; {relative path: rows} of the tables."""
        self.close()
        counts = {name: w.rows for name, w in self.writers.items()}
        (self.staging / CARD_FILE).write_text(dataset_card(manifest, counts), encoding="utf-8")
        return {f"{HF_DIR}/data/{name}.parquet": n for name, n in counts.items()}
