"""Debian's chromium for the real-browser tests: never a downloaded browser."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium tries the network at every start (closed here).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run ./run test (it installs the Debian package)")
