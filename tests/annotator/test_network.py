"""Nothing leaves the machine however the app is started: `streamlit run` from another folder, a foreign-Origin
websocket, a browser on the page; connections are counted with strace (Debian's strace, installed by ./run)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

from annotator._guard import exposure_warning, is_loopback
from annotator.serve import APP, app_env
from db.engine import make_engine
from db.migrate import upgrade
from pipeline._process import free_port
from tests._browser import ARGS, CHROMIUM, require_chromium

ADDRESS = re.compile(r'inet_addr\("([\d.]+)"\)|inet_pton\(AF_INET6, "([0-9a-fA-F:.]+)"')


@contextmanager
def traced_app(folder: Path, db_url: str, *flags: str) -> Iterator[tuple[str, Path, Path]]:
    """`strace -f streamlit run <repo>/annotator/app.py` started in `folder`, with no flags but `flags`."""
    if not shutil.which("strace"):
        pytest.fail("strace is not installed: run ./run test (it installs the Debian package)")
    port = free_port()
    trace, log = folder / "connect.trace", folder / "streamlit.log"
    cmd = ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace),
           sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port), *flags]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=folder, env=app_env(db_url), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.time() < deadline, log.read_text()
            time.sleep(0.5)
        yield base, trace, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def outside_connections(trace: Path) -> list[str]:
    """Every connect/sendto to an address that is not loopback (or the unspecified address)."""
    found = []
    for line in trace.read_text().splitlines():
        if "AF_UNIX" in line or "AF_NETLINK" in line:
            continue
        for v4, v6 in ADDRESS.findall(line):
            addr = v4 or v6
            if addr not in ("0.0.0.0", "::") and not is_loopback(addr) and not addr.startswith("::ffff:127."):
                found.append(line)
    return found


def _listening_addresses(port: int) -> set[str]:
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state == "0A" and int(hexport, 16) == port:
                out.add(addr)
    return out


@pytest.fixture
def db_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def test_started_from_another_folder_listens_on_loopback_and_nothing_leaves(tmp_path, db_url):
    require_chromium()
    from playwright.sync_api import sync_playwright
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # A folder whose own Streamlit config asks for the unsafe settings: the app's own config still wins.
    (elsewhere / ".streamlit").mkdir()
    (elsewhere / ".streamlit" / "config.toml").write_text(
        '[server]\naddress = "0.0.0.0"\n[browser]\ngatherUsageStats = true\n', encoding="utf-8"
    )
    with traced_app(elsewhere, db_url) as (base, trace, log):
        port = int(base.rsplit(":", 1)[1])
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only
        # A websocket from a page on another site: refused, and no lookup of this machine's addresses.
        for _ in range(2):
            with pytest.raises(InvalidStatus):
                connect(f"ws://127.0.0.1:{port}/_stcore/stream", origin="http://evil.example", open_timeout=30)
        # The page in a real browser: no usage statistics, nothing fetched from outside.
        requests: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(base)
            expect(page.get_by_label("Username")).to_be_visible(timeout=60_000)
            expect(page.locator('[data-testid="stApp"]')).to_have_attribute(
                "data-test-script-state", "notRunning", timeout=60_000
            )
            browser.close()
        assert [u for u in requests if not u.startswith((base, "data:", "blob:"))] == []
        assert "WARNING" not in log.read_text()
    assert outside_connections(trace) == [], outside_connections(trace)


def test_listening_on_every_interface_over_http_warns(tmp_path, db_url):
    with traced_app(tmp_path, db_url, "--server.address", "0.0.0.0") as (base, trace, log):
        text = log.read_text()
    assert "WARNING: DxTrace is listening on 0.0.0.0 over plain HTTP" in text and "docs/deployment.md" in text
    assert outside_connections(trace) == [], outside_connections(trace)


@pytest.mark.parametrize(
    ("address", "tls", "warns"),
    [
        ("127.0.0.1", False, False),
        ("localhost", False, False),
        ("::1", False, False),
        ("0.0.0.0", False, True),
        (None, False, True),
        ("192.0.2.10", False, True),
        ("0.0.0.0", True, False),
    ],  # fmt: skip
)
def test_exposure_warning(address, tls, warns):
    assert (exposure_warning(address, tls) is not None) == warns
