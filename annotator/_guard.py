"""Nothing leaves the machine, however the app is started: run once in the server process, before any session.

Streamlit asks the internet two things on its own: the browser fetches usage statistics when
browser.gatherUsageStats is on, and the server looks up this machine's addresses (a UDP "connect" to 8.8.8.8
and an HTTP GET to checkip.amazonaws.com) whenever a websocket arrives with an Origin it does not know, to
see whether that origin is the machine itself. The statistics are switched off here whatever the config files
say; the address lookups are answered from Streamlit's own cache, so a foreign Origin is refused without any
lookup (CORS stays on). Serving beyond this machine over plain HTTP prints a warning.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

DEPLOYMENT_GUIDE = "docs/deployment.md"
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
# Settings the app holds whatever the config files say: no statistics, cross-origin and XSRF protection on.
ENFORCED = {"browser.gatherUsageStats": False, "server.enableCORS": True, "server.enableXsrfProtection": True}


def seal_network() -> None:
    """Prime Streamlit's address cache so that it never looks the machine's addresses up on the network."""
    from streamlit import net_util

    net_util._internal_ip = "127.0.0.1"  # noqa: SLF001 - Streamlit's own cache; no public switch exists
    net_util._external_ip = "127.0.0.1"  # noqa: SLF001


def is_loopback(address: str | None) -> bool:
    if not address:
        return False  # Streamlit's default is every interface
    if address in LOOPBACK_NAMES or address.startswith("unix://"):
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def exposure_warning(address: str | None, tls: bool) -> str | None:
    """The warning for serving beyond this machine without TLS, else None."""
    if is_loopback(address) or tls:
        return None
    where = address or "every interface"
    return (
        f"WARNING: DxTrace is listening on {where} over plain HTTP: anyone on the network can reach the "
        "sign-in page, and passwords, traces and labels cross it unencrypted. Listen on 127.0.0.1 behind a "
        f"reverse proxy with TLS instead ({DEPLOYMENT_GUIDE})."
    )


def enforce(config: Any = None) -> str | None:
    """Apply ENFORCED and return the exposure warning for the current settings (None when safe)."""
    if config is None:
        from streamlit import config
    for key, value in ENFORCED.items():
        if config.get_option(key) != value:
            config.set_option(key, value, where_defined="DxTrace (annotator/_guard.py)")
    tls = bool(config.get_option("server.sslCertFile"))
    return exposure_warning(config.get_option("server.address"), tls)


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    seal_network()
    warning = enforce()
    if warning:
        print(warning, file=sys.stderr, flush=True)
    yield
