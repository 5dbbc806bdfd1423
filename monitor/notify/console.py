"""The console channel: a readable block, or one JSON line per alert for piping into tools."""

from __future__ import annotations

import contextlib
import sys
from typing import Literal, TextIO

from monitor.config.schema import ConsoleChannel
from monitor.errors import DeliveryError
from monitor.model import Alert, Digest
from monitor.notify.base import Resources, register
from monitor.notify.render import plain_text


class ConsoleNotifier:
    def __init__(
        self,
        name: str,
        *,
        format: Literal["text", "json"] = "text",
        stream: TextIO | None = None,
    ) -> None:
        self.name = name
        self._format = format
        self._stream = stream

    def __repr__(self) -> str:
        return f"ConsoleNotifier({self.name!r}, format={self._format!r})"

    async def send(self, alert: Alert) -> None:
        # Without a stream of its own, look sys.stdout up now: it may have been redirected since.
        stream = self._stream if self._stream is not None else sys.stdout
        text = alert.to_json() if self._format == "json" else plain_text(alert) + "\n"
        try:
            stream.write(text + "\n")
            # Flushed per alert: a pipe reader should see it now, not when a buffer fills.
            stream.flush()
        except (OSError, ValueError, UnicodeError) as exc:
            # A closed or broken stream stays that way; retrying would only repeat the failure.
            raise DeliveryError(
                self.name, f"cannot write to the console: {type(exc).__name__}", retryable=False
            ) from exc

    async def send_digest(self, digest: Digest) -> None:
        for alert in digest.alerts:
            await self.send(alert)

    async def aclose(self) -> None:
        """Flush, never close: the stream belongs to the process."""
        stream = self._stream if self._stream is not None else sys.stdout
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


@register("console")
def console_channel(name: str, config: ConsoleChannel, resources: Resources) -> ConsoleNotifier:
    return ConsoleNotifier(name, format=config.console.format, stream=resources.stdout)
