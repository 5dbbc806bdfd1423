"""Generic webhooks: POST ``Alert.as_dict()`` as JSON, signed when a secret is configured."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from monitor.config.schema import WebhookChannel
from monitor.model import Alert, Digest
from monitor.notify import _http
from monitor.notify.base import Resources, register

if TYPE_CHECKING:
    import httpx

SIGNATURE_HEADER = "X-Monitor-Signature"


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC of the exact bytes sent; the receiver verifies before parsing."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        http: httpx.AsyncClient,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: float = _http.DEFAULT_DEADLINE,
    ) -> None:
        self.name = name
        self._url = url
        self._http = http
        self._secret = secret
        self._headers = dict(headers or {})
        self._deadline = deadline
        # Configured header values are often credentials too (Authorization: Bearer ...).
        self._secrets = _http.Secrets(url, [secret, *self._headers.values()])

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.name!r}, {self._secrets.target!r})"

    async def send(self, alert: Alert) -> None:
        await self._post(alert.to_json(), alert.key)

    async def send_digest(self, digest: Digest) -> None:
        """``{"id", "count", "alerts": [...]}``, each alert as ``send`` would post it."""
        await self._post(digest.to_json(), digest.key)

    async def _post(self, payload: str, key: str) -> None:
        # Serialised once: the signature must cover exactly the bytes on the wire.
        import httpx  # loaded by the channels that post only (see _http.post)

        body = payload.encode("utf-8", "replace")
        headers = httpx.Headers(self._headers)
        # Set after the configured headers so that configuration cannot break the contract.
        headers["Content-Type"] = "application/json; charset=utf-8"
        headers["Idempotency-Key"] = key
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        answer = await _http.post(
            self._http,
            channel=self.name,
            url=self._url,
            content=body,
            headers=headers,
            deadline=self._deadline,
            secrets=self._secrets,
        )
        if not answer.accepted:
            raise _http.failure(self.name, answer, self._secrets, now=datetime.now(UTC))

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client is shared and closed by its owner."""


@register("webhook")
def webhook_channel(name: str, config: WebhookChannel, resources: Resources) -> WebhookNotifier:
    return WebhookNotifier(
        name, config.webhook, http=resources.http(), secret=config.secret, headers=config.headers
    )
