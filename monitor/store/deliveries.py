"""The deliveries of alerts: what is due, what was sent, retried or dead-lettered."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Select, select, update

from monitor.model import Alert
from monitor.store import rows, schema
from monitor.store.part import StorePart
from monitor.store.records import DeliveryRow

logger = logging.getLogger(__name__)


class DeliveryRecords(StorePart):
    """Part of ``Store``; the outbox's queries."""

    @staticmethod
    def _delivery_query() -> Select[Any]:
        d, a = schema.deliveries, schema.alerts
        return select(d, a.c.payload).join(a, a.c.id == d.c.alert_id)

    def due_deliveries(self, *, now: datetime, limit: int = 100) -> list[DeliveryRow]:
        d = schema.deliveries
        query = (
            self._delivery_query()
            .where(d.c.status == "pending", d.c.next_attempt_at <= rows.utc(now))
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(limit)
        )
        with self._transaction("reading due deliveries") as conn:
            return [_delivery(r._mapping) for r in conn.execute(query).all()]

    def deliveries(
        self, *, status: str | None = None, limit: int | None = None
    ) -> list[DeliveryRow]:
        """Newest first."""
        d = schema.deliveries
        query = self._delivery_query().order_by(d.c.created_at.desc(), d.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(d.c.status == status)
        with self._transaction("reading deliveries") as conn:
            return [_delivery(r._mapping) for r in conn.execute(query).all()]

    def alerts_since(self, since: datetime) -> list[tuple[str, str, str]]:
        """``(rule, key, title)`` of the alerts recorded since ``since``, oldest first."""
        a = schema.alerts
        query = (
            select(a.c.rule, a.c.key, a.c.payload)
            .where(a.c.created_at >= rows.utc(since))
            .order_by(a.c.created_at, a.c.id)
        )
        with self._transaction("reading recent alerts") as conn:
            found = conn.execute(query).all()
        return [(rule, key, json.loads(payload)["title"]) for rule, key, payload in found]

    def _update_delivery(
        self, delivery_id: int, values: Mapping[str, Any], *, only_pending: bool
    ) -> None:
        d = schema.deliveries
        statement = (
            update(d).where(d.c.id == delivery_id).values(attempts=d.c.attempts + 1, **values)
        )
        if only_pending:
            # A late failure report (an overlapping sweep) must not undo a recorded send.
            statement = statement.where(d.c.status == "pending")
        with self._transaction("updating a delivery", write=True) as conn:
            changed = conn.execute(statement).rowcount
        if not changed:
            logger.warning("delivery %s: not updated (gone, or no longer pending)", delivery_id)

    def mark_sent(self, delivery_id: int, *, at: datetime) -> None:
        now = rows.utc(at)
        values = {"status": "sent", "sent_at": now, "updated_at": now}
        self._update_delivery(delivery_id, values, only_pending=False)

    def mark_retry(
        self, delivery_id: int, *, at: datetime, error: str, next_attempt_at: datetime
    ) -> None:
        values = {
            "last_error": error,
            "next_attempt_at": rows.utc(next_attempt_at),
            "updated_at": rows.utc(at),
        }
        self._update_delivery(delivery_id, values, only_pending=True)

    def mark_dead(self, delivery_id: int, *, at: datetime, error: str) -> None:
        values = {"status": "dead", "last_error": error, "updated_at": rows.utc(at)}
        self._update_delivery(delivery_id, values, only_pending=True)

    def retry_dead(self, *, at: datetime, delivery_ids: Sequence[int] | None = None) -> int:
        d = schema.deliveries
        now = rows.utc(at)
        statement = (
            update(d)
            .where(d.c.status == "dead")
            # a fresh count of tries: the retry is a new decision, not the old one continued
            .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
        )
        if delivery_ids is not None:
            statement = statement.where(d.c.id.in_(list(delivery_ids)))
        with self._transaction("re-queueing deliveries", write=True) as conn:
            return conn.execute(statement).rowcount


def _delivery(row: RowMapping) -> DeliveryRow:
    return DeliveryRow(
        id=row["id"],
        channel=row["channel"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=rows.utc_or_none(row["next_attempt_at"]),
        last_error=row["last_error"],
        created_at=rows.utc(row["created_at"]),
        sent_at=rows.utc_or_none(row["sent_at"]),
        alert=Alert.from_dict(json.loads(row["payload"])),
    )
