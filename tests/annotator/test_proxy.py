"""The team set-up of docs/deployment.md: nginx (Debian's package) with TLS in front of the app, started
with a self-signed certificate on loopback; a clinician signs in through it in chromium."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from annotator.serve import serve_app
from db.engine import make_engine
from db.migrate import upgrade
from pipeline._process import free_port
from tests._browser import ARGS, CHROMIUM, fill_sign_in, require_chromium
from tests.annotator.conftest import assigned_world
from tests.conftest import REPO
from tests.pipeline.annotation.conftest import PASSWORD

pytestmark = pytest.mark.browser


def documented_server_block() -> str:
    """The HTTPS server block of docs/deployment.md, as written there."""
    doc = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
    block = re.search(r"```nginx\n(.*?)```", doc, re.S).group(1)
    https = block[block.index("server {", block.index("return 301")) :]
    assert "listen 443 ssl" in https and "proxy_pass http://127.0.0.1:8501;" in https
    return https


def nginx_config(root, port: int, app_port: int) -> str:
    server = documented_server_block()
    server = re.sub(r"listen 443 ssl[^;]*;", f"listen 127.0.0.1:{port} ssl;", server)
    server = server.replace("/etc/ssl/dxtrace/fullchain.pem", str(root / "cert.pem"))
    server = server.replace("/etc/ssl/dxtrace/privkey.pem", str(root / "key.pem"))
    server = server.replace("127.0.0.1:8501", f"127.0.0.1:{app_port}")
    temp = "".join(
        f"{kind}_temp_path {root / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"pid {root / 'nginx.pid'};\nerror_log {root / 'error.log'};\nworker_processes 1;\n"
        "events { worker_connections 256; }\n"
        f"http {{\naccess_log {root / 'access.log'};\n{temp}{server}\n}}\n"
    )


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    require_chromium()
    if not shutil.which("nginx") and not (shutil.which("/usr/sbin/nginx")):
        pytest.fail("nginx is not installed: run ./run test (it installs Debian's nginx-light)")
    root = tmp_path_factory.mktemp("proxy")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    url = f"sqlite:///{root / 'study.db'}"
    engine = make_engine(url)
    upgrade(engine)
    assigned_world(engine)
    with (root / "streamlit.log").open("w") as log, serve_app(url, log=log) as base:
        app_port = int(base.rsplit(":", 1)[1])
        port = free_port()
        (root / "nginx.conf").write_text(nginx_config(root, port, app_port), encoding="utf-8")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        proc = subprocess.Popen([nginx, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            context = ssl.create_default_context(cafile=str(root / "cert.pem"))
            context.check_hostname = False
            deadline = time.time() + 60
            while True:  # wait until nginx answers through to the app
                try:
                    with urllib.request.urlopen(f"https://127.0.0.1:{port}/_stcore/health", context=context) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                assert proc.poll() is None, proc.stderr.read()
                assert time.time() < deadline, (root / "error.log").read_text()
                time.sleep(0.3)
            yield {"base": f"https://127.0.0.1:{port}", "context": context}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    engine.dispose()


def test_metrics_are_not_served_through_the_proxy(proxied):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{proxied['base']}/_stcore/metrics", context=proxied["context"])
    assert err.value.code == 404


def test_sign_in_and_label_through_nginx_with_tls(proxied):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(ignore_https_errors=True)  # the test's self-signed certificate
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(proxied["base"])
        fill_sign_in(page, "ann1", PASSWORD)
        expect(page.get_by_text("Reasoning trace ·").first).to_be_visible(timeout=60_000)  # the websocket works
        expect(page.get_by_text("Item 1 of").first).to_be_visible()
        browser.close()
    assert requests and all(u.startswith(proxied["base"]) or u.startswith(("data:", "blob:")) for u in requests)
