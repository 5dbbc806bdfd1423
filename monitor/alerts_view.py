"""`monitor alerts`: recent deliveries, newest first, with why the failed ones failed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.store import DeliveryRow
from monitor.tables import relative_time, render_columns

TITLE_MAX = 70
ERROR_MAX = 120


def delivery_dict(row: DeliveryRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "channel": row.channel,
        "rule": row.alert.rule,
        "severity": row.alert.severity,
        "title": row.alert.title,
        "url": row.alert.url,
        "attempts": row.attempts,
        "created_at": row.created_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "last_error": row.last_error,
    }


def _detail(row: DeliveryRow, now: datetime) -> str:
    title = row.alert.title[:TITLE_MAX]
    if row.status == "pending" and row.last_error:
        when = relative_time(row.next_attempt_at, now)
        return f"{title} — retry {when}: {row.last_error[:ERROR_MAX]}"
    if row.status == "dead":
        return f"{title} — {(row.last_error or '')[:ERROR_MAX]}"
    return title


def render_deliveries(deliveries: Sequence[DeliveryRow], now: datetime) -> str:
    if not deliveries:
        return "no alerts"
    return render_columns(
        ("ID", "STATUS", "CHANNEL", "RULE", "TRIES", "CREATED", "ALERT"),
        [
            (
                str(row.id),
                row.status,
                row.channel,
                row.alert.rule,
                str(row.attempts),
                relative_time(row.created_at, now),
                _detail(row, now),
            )
            for row in deliveries
        ],
    )
