"""CPU time of `python -m pipeline --help` and of one subcommand's --help (the registry imports only what it needs).

.venv/bin/python bench/bench_cli_help.py [repeats]

CPU time (user + system of the child process), not wall clock: the machine is shared, so wall clock mostly
measures the neighbours. The median of the repeats is printed, with the interpreter's own start-up for scale.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass (interpreter start-up)": [sys.executable, "-c", "pass"],
    "python -m pipeline --help": [sys.executable, "-m", "pipeline", "--help"],
    "python -m pipeline report --help": [sys.executable, "-m", "pipeline", "report", "--help"],
    "python -m pipeline grade --help": [sys.executable, "-m", "pipeline", "grade", "--help"],
}


def cpu_seconds(cmd: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(f"| command | CPU seconds (median of {repeats}) |\n|---|---|")
    for name, cmd in COMMANDS.items():
        cpu_seconds(cmd)  # warm the file cache
        print(f"| `{name}` | {statistics.median(cpu_seconds(cmd) for _ in range(repeats)):.2f} |")


if __name__ == "__main__":
    main()
