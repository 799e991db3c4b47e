"""Subcommand: demo, the main job on the embedded defaults."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from annotator.serve import REPO, app_command, app_env
from pipeline.cli import command
from pipeline.cli._common import console, err_console, open_db
from pipeline.demo import DEMO_STUDY, run_demo
from pipeline.errors import DxTraceError


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sample", type=int, metavar="N", help="cases for the embedded model (default: the study file's)")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the report (default: out/demo)")
    p.add_argument("--no-app", action="store_true", help="do not open the annotation app at the end")
    p.add_argument("--port", type=int, default=8501, help="port of the annotation app (default 8501)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


@command(
    "demo",
    help="Run the demo study end to end on the embedded defaults, then open the app.",
    arguments=_arguments,
    order=1,
)
def demo_cmd(args: argparse.Namespace) -> int:
    if args.sample is not None and args.sample < 1:
        raise DxTraceError("--sample must be at least 1")
    if not 1 <= args.port <= 65535:
        raise DxTraceError("--port must be between 1 and 65535")
    engine = open_db(args)
    result = run_demo(engine, args.out, sample=args.sample, console=err_console, progress=not args.no_progress)
    console.rule("[bold]done")
    console.print(f"study {DEMO_STUDY!r}: {result.assigned} incorrect responses assigned for annotation")
    console.print(f"report: {result.report_html}")
    if result.credentials:
        console.print(f"new accounts (their passwords are shown once here, and kept in {result.credentials_file}):")
        for user, password in result.credentials.items():
            console.print(f"  {user}  {password}")
    else:
        console.print("accounts: lead, clinician1 (set a new password with: python -m pipeline users passwd NAME)")
    if args.no_app:
        return 0
    url = f"http://127.0.0.1:{args.port}"
    console.print(f"annotation app: {url}  (Ctrl+C stops it)")
    db_url = engine.url.render_as_string(hide_password=False)
    return subprocess.call(app_command(args.port), cwd=REPO, env=app_env(db_url))
