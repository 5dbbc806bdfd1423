"""What the store hands out and takes in, apart from the store itself.

These travel between processes (a pass's store process answers with them) and fill the tables
of the short commands; a process that only reads them never imports SQLAlchemy, which costs a
`monitor check` a fifth of a second before its first fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.model import Alert


@dataclass(frozen=True, kw_only=True)
class SourceState:
    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    fetched_once: bool = False
    items_seen: int = 0
    next_poll_at: datetime | None = None
    failing_since: datetime | None = None
    health_alert: str | None = None
    health_alert_at: datetime | None = None
    last_warning: str | None = None
    last_warning_at: datetime | None = None
    #: milliseconds the last good fetch took to answer, and its body to become items
    fetch_ms: int | None = None
    parse_ms: int | None = None


@dataclass(frozen=True, kw_only=True)
class SourceActivity:
    """New items of one source: how many since a moment, the first of them, and the latest ever."""

    count: int
    first_at: datetime | None
    last_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class CommitResult:
    items_added: int
    alerts_enqueued: int


@dataclass(frozen=True, kw_only=True)
class FetchSuccess:
    """What a fetch that worked tells about its source, besides the items it found."""

    etag: str | None
    last_modified: str | None
    next_poll_at: datetime | None = None
    fetch_ms: int | None = None
    parse_ms: int | None = None


@dataclass(frozen=True, kw_only=True)
class DeliveryRow:
    id: int
    channel: str
    status: str  # pending | sent | dead
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    alert: Alert
