"""Export, import and report on the labelled test study with all 400 shipped R1 traces and 250 Sandmann answers.

.venv/bin/python bench/bench_export_report.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.engine import make_engine, session_scope  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from pipeline.export import export_study, import_export  # noqa: E402
from pipeline.report import write_report  # noqa: E402
from tests.pipeline.export.study import build_labelled_study  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = make_engine(f"sqlite:///{root / 'src.db'}")
        upgrade(src)
        with session_scope(src) as s:
            study = build_labelled_study(s, n_r1=400)
            study_id = study.id
        timings = {}
        t = time.perf_counter()
        with session_scope(src) as s:
            summary = export_study(s, study_id, root / "export")
        timings["export (jsonl+csv+parquet)"] = time.perf_counter() - t
        size = sum(p.stat().st_size for p in summary.files)
        dst = make_engine(f"sqlite:///{root / 'dst.db'}")
        upgrade(dst)
        t = time.perf_counter()
        with session_scope(dst) as s:
            imported = import_export(s, root / "export")
        timings["import-export (validate + write)"] = time.perf_counter() - t
        t = time.perf_counter()
        with session_scope(src) as s:
            html, md = write_report(s, study_id, root / "report", formats=["html", "md"])
        timings["report (2,000 bootstrap resamples)"] = time.perf_counter() - t
        t = time.perf_counter()
        with session_scope(src) as s:
            (paper,) = write_report(s, study_id, root / "report", formats=["paper"])
        timings["report paper folder (tables, SVG+PNG figures)"] = time.perf_counter() - t
        files = list(paper.iterdir())
        print(
            f"{summary.counts['responses']} responses, {imported.annotations} annotations; export {size / 1e6:.1f} MB"
        )
        print(f"report.html {html.stat().st_size / 1e6:.1f} MB, report.md {md.stat().st_size / 1e3:.0f} kB")
        print(f"paper/: {len(files)} files, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB")
        for name, seconds in timings.items():
            print(f"{name}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
