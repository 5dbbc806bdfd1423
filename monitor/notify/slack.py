"""Slack incoming webhooks: POST the rendered message; accepted only when Slack says ``ok``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monitor.config.schema import SlackChannel
from monitor.errors import DeliveryError
from monitor.fetch.politeness import HostLimiter
from monitor.model import Alert, Digest
from monitor.notify import _http
from monitor.notify.base import Resources, register, slack_pacing
from monitor.notify.digest import slack_digest
from monitor.notify.render import SLACK_SECTION_MAX, cut, slack_message
from monitor.notify.templates import NO_TEMPLATES, Templates

if TYPE_CHECKING:
    import httpx


class SlackNotifier:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        http: httpx.AsyncClient,
        deadline: float = _http.DEFAULT_DEADLINE,
        pacing: HostLimiter | None = None,
        templates: Templates = NO_TEMPLATES,
    ) -> None:
        self.name = name
        self._templates = templates
        self._url = url
        self._http = http
        self._deadline = deadline
        self._secrets = _http.Secrets(url)
        # shared by the channels of one config, so two channels on one webhook share its limit
        self._pacing = pacing or slack_pacing()

    def __repr__(self) -> str:
        return f"SlackNotifier({self.name!r}, {self._secrets.target!r})"

    async def send(self, alert: Alert) -> None:
        message = slack_message(alert)
        if (custom := self._templates.render("slack.md", alert)) is not None:
            message["blocks"][0]["text"]["text"] = cut(custom, SLACK_SECTION_MAX) or "(empty)"
        await self._post(message)

    async def send_digest(self, digest: Digest) -> None:
        await self._post(slack_digest(digest))

    async def _post(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, ensure_ascii=False).encode("utf-8", "replace")
        async with self._pacing.slot(("slack", self._url, None)):
            answer = await _http.post(
                self._http,
                channel=self.name,
                url=self._url,
                content=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
                deadline=self._deadline,
                secrets=self._secrets,
            )
        if not answer.accepted:
            raise _http.failure(self.name, answer, self._secrets, now=datetime.now(UTC))
        # Slack reports some refusals (a revoked token, an archived channel) with a 2xx status
        # and the reason as the body; only a literal "ok" means the message was posted.
        if answer.body.strip() != b"ok":
            raise DeliveryError(
                self.name,
                f"Slack did not accept the message: HTTP {answer.status} "
                f"{_http.quote(answer.body, self._secrets)}",
                retryable=False,
            )

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client is shared and closed by its owner."""


@register("slack")
def slack_channel(name: str, config: SlackChannel, resources: Resources) -> SlackNotifier:
    return SlackNotifier(
        name,
        config.slack,
        http=resources.http(),
        pacing=resources.slack_pacing,
        templates=resources.templates,
    )
