from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers import LoopbackServer

_PROXY_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


@pytest.fixture(autouse=True)
def _clean_environ(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Proxies or CA overrides from the developer's shell must not change what tests see, and
    the monitor's config cache goes to the test run's own folder, not the user's."""
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "config-cache"))


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[LoopbackServer]:
    """A second loopback server that stands in for Slack and webhook endpoints."""
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.stop()


def postgres_url() -> str:
    default = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    return os.environ.get("MONITOR_TEST_POSTGRES", default)
