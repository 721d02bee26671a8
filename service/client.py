"""A small HTTP client of the API for the command line (and scripts): URL and token from the env.

``ABLATE_API_URL`` (default http://127.0.0.1:8000) and ``ABLATE_API_TOKEN``. Refusals become
`ApiError` carrying the server's message and field problems, never an httpx traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass
class ApiError(Exception):
    """A request the API refused (``status`` >= 400) or could not be reached (``status`` 0)."""

    status: int
    message: str
    fields: list[dict[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [self.message] + [f"  {f.get('path', '?')}: {f.get('message', '')}" for f in self.fields]
        return "\n".join(lines)


class ApiClient:
    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = (url or os.environ.get("ABLATE_API_URL") or DEFAULT_URL).rstrip("/")
        token = token if token is not None else os.environ.get("ABLATE_API_TOKEN") or None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    def text(self, path: str, **params: Any) -> str:
        """A GET whose answer is text (Markdown, CSV or LaTeX tables)."""
        return self._send("GET", path, params=params).text

    def content(self, path: str, **params: Any) -> bytes:
        """A GET whose answer is a file (a figure, a table)."""
        return self._send("GET", path, params=params).content

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(
                0,
                f"cannot reach the API at {self.url} ({exc}); is `ablate serve` running, "
                "and is ABLATE_API_URL right?",
            ) from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def submit(self, body: dict[str, Any], dry_run: bool = False, idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        params = {"dry_run": "true"} if dry_run else {}
        return self.request("POST", "/experiments", json=body, params=params, headers=headers)

    def experiments(self, status: str | None = None, limit: int = 50) -> Any:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        return self.request("GET", "/experiments", params=params)

    def experiment(self, experiment_id: int) -> Any:
        return self.request("GET", f"/experiments/{experiment_id}")

    def cancel_experiment(self, experiment_id: int) -> Any:
        return self.request("POST", f"/experiments/{experiment_id}/cancel")

    def trials(self, experiment_id: int) -> Any:
        return self.request("GET", f"/experiments/{experiment_id}/trials")

    def retry_experiment(self, experiment_id: int) -> Any:
        return self.request("POST", f"/experiments/{experiment_id}/retry")

    def trial(self, trial_id: int) -> Any:
        return self.request("GET", f"/trials/{trial_id}")

    def presets(self) -> Any:
        return self.request("GET", "/presets")

    def preset(self, name: str) -> Any:
        return self.request("GET", f"/presets/{name}")

    def table(self, experiment_id: int, kind: str = "ablation", fmt: str = "json") -> Any:
        path = f"/experiments/{experiment_id}/table"
        return self.request("GET", path, params={"kind": kind, "format": "json"}) if fmt == "json" else (
            self.text(path, kind=kind, format=fmt))

    def cancel_trial(self, trial_id: int) -> Any:
        return self.request("POST", f"/trials/{trial_id}/cancel")


def _error(response: httpx.Response) -> ApiError:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    message = error.get("message") or f"HTTP {response.status_code}: {response.text[:200]}"
    return ApiError(response.status_code, message, list(error.get("fields") or []))
