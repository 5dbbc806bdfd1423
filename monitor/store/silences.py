"""Silences in the store: added, listed, expired."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import RowMapping, select, update

from monitor.silences import Silence
from monitor.store import rows, schema
from monitor.store.part import StorePart


def _silence(row: RowMapping) -> Silence:
    return Silence(
        id=row["id"],
        rule=row["rule"],
        match=row["match"],
        comment=row["comment"],
        created_at=rows.utc(row["created_at"]),
        ends_at=rows.utc(row["ends_at"]),
    )


class SilenceRecords(StorePart):
    """Part of ``Store``."""

    def add_silence(
        self, *, rule: str | None, match: str, comment: str, at: datetime, ends_at: datetime
    ) -> Silence:
        values = {
            "rule": rule,
            "match": match,
            "comment": comment,
            "created_at": rows.utc(at),
            "ends_at": rows.utc(ends_at),
        }
        with self._transaction("adding a silence", write=True) as conn:
            silence_id = conn.execute(
                schema.silences.insert().values(values).returning(schema.silences.c.id)
            ).scalar_one()
        return Silence(
            id=silence_id, rule=rule, match=match, comment=comment, created_at=at, ends_at=ends_at
        )

    def silences(self, *, active_at: datetime | None = None) -> list[Silence]:
        """Every silence, newest first; only those in force at ``active_at`` when given."""
        s = schema.silences
        query = select(s).order_by(s.c.id.desc())
        if active_at is not None:
            moment = rows.utc(active_at)
            query = query.where(s.c.created_at <= moment, s.c.ends_at > moment)
        with self._transaction("reading silences") as conn:
            return [_silence(r._mapping) for r in conn.execute(query).all()]

    def expire_silence(self, silence_id: int, *, at: datetime) -> bool:
        """End a silence now; False when there is no such silence in force."""
        s = schema.silences
        moment = rows.utc(at)
        statement = (
            update(s).where(s.c.id == silence_id, s.c.ends_at > moment).values(ends_at=moment)
        )
        with self._transaction("expiring a silence", write=True) as conn:
            return bool(conn.execute(statement).rowcount)
