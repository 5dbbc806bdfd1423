"""One exception tree for everything the monitor reports to its user.

Foreign exceptions (httpx, smtplib, SQLAlchemy, PyYAML, pydantic) are converted in the module that
calls the library, with ``raise ... from exc``, so the rest of the code handles only these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class MonitorError(Exception):
    """Root of every error the monitor expects and reports without a traceback."""


@dataclass(frozen=True)
class Problem:
    """One problem in a file, printed as ``path:line:col: message`` (line and column from 1)."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class ConfigError(MonitorError):
    """monitor.yaml or a rule file is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.path, p.line, p.col))
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, path: str, line: int, col: int, message: str) -> ConfigError:
        return cls([Problem(path, line, col, message)])


class FetchErrorKind(StrEnum):
    TIMEOUT = "timeout"
    NETWORK = "network"
    HTTP_STATUS = "http_status"
    BODY_TOO_LARGE = "body_too_large"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BLOCKED_DESTINATION = "blocked_destination"
    NOT_A_FEED = "not_a_feed"
    PARSE = "parse"


class FetchError(MonitorError):
    """A source could not be fetched or parsed; ``kind`` classifies it for health and backoff."""

    def __init__(
        self,
        source: str,
        kind: FetchErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.source = source
        self.kind = kind
        self.detail = message
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"source {source!r}: {kind.value}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # raised in a parsing worker process, it is pickled back to the monitor
        return (type(self), (self.source, self.kind, self.detail), self.__dict__)


class DeliveryError(MonitorError):
    """A channel refused or failed to take an alert.

    ``retryable`` says whether trying again later can succeed (timeouts, 429, 5xx, SMTP 4xx);
    ``retry_after`` is the server's hint in seconds, when it gave one.
    """

    def __init__(
        self,
        channel: str,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
    ) -> None:
        self.channel = channel
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(f"channel {channel!r}: {message}")


class StoreError(MonitorError):
    """The state database failed; nothing of the failed transaction was kept."""


def without_password(location: str) -> str:
    """A database URL as messages may show it: any password replaced by ``***``."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", location)
