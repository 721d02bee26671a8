"""`/docs` as a user sees it with no internet: Swagger UI from the server's own assets, in Chromium.

Every request the page makes to a host other than the server is aborted and recorded; the page
must still render the API's operations, with no console errors and no outside request attempted.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from service.app import create_app
from service.settings import Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def docs_server(tmp_path: Path) -> Iterator[str]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'docs.db'}", api_token="docs-token"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_docs_page_names_only_local_assets(docs_server: str) -> None:
    html = httpx.get(f"{docs_server}/docs").text
    assert "cdn." not in html and "/docs-assets/swagger-ui-bundle.js" in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"):
        assert httpx.get(f"{docs_server}/docs-assets/{asset}").status_code == 200
    assert httpx.get(f"{docs_server}/docs/oauth2-redirect").status_code == 200
    assert "/docs-assets" not in httpx.get(f"{docs_server}/openapi.json").json()["paths"]


@pytest.mark.browser
def test_docs_page_renders_offline(docs_server: str, chromium_page: tuple[Any, list[str]],
                                   artifacts_dir: Path) -> None:
    page, errors = chromium_page
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.goto(f"{docs_server}/docs", wait_until="load")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock-summary-path", has_text="/experiments").count() >= 1
    assert "DAFormer ablation service" in page.locator(".info .title").inner_text()
    page.screenshot(path=str(artifacts_dir / "service_docs.png"))
    assert outside == [], f"/docs asked for outside resources: {outside}"
    assert errors == [], f"console errors on /docs: {errors}"
