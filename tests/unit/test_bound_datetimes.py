"""The store's multi-row statements write a datetime as SQLAlchemy's own insert would."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from monitor.store import bulk, schema

COLUMNS = ("published_at", "first_seen_at", "title")
offsets = st.none() | st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))


def sqlalchemy_processors(
    dialect: Any, table: Table = schema.items, columns: tuple[str, ...] = COLUMNS
) -> list[Any]:
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


@settings(max_examples=500, deadline=None)
@given(moment=st.datetimes(), offset=offsets)
@example(moment=datetime(1, 1, 1), offset=None)
@example(moment=datetime(9999, 12, 31, 23, 59, 59, 999_999), offset=timedelta(hours=-5))
@example(moment=datetime(2024, 9, 3, 8, 0), offset=timedelta(0))
def test_a_datetime_is_written_as_sqlalchemy_writes_it_on_sqlite(
    moment: datetime, offset: timedelta | None
) -> None:
    if offset is not None:
        moment = moment.replace(tzinfo=timezone(offset))
    dialect = sqlite.dialect()
    ours = bulk._processors(dialect, schema.items, COLUMNS)
    theirs = sqlalchemy_processors(dialect)
    for mine, reference in zip(ours[:2], theirs[:2], strict=True):
        assert mine is not None
        assert reference is not None
        assert mine(moment) == reference(moment)
    # text is bound as it is, on both sides
    assert ours[2] is None
    assert theirs[2] is None


def test_what_is_not_a_datetime_goes_to_sqlalchemy() -> None:
    dialect = sqlite.dialect()
    (published, *_) = bulk._processors(dialect, schema.items, COLUMNS)
    (reference, *_) = sqlalchemy_processors(dialect)
    assert published is not None
    assert reference is not None
    assert published(None) is None
    assert published(date(2024, 9, 3)) == reference(date(2024, 9, 3))


def test_postgresql_gets_datetimes_as_they_are_for_its_driver_to_bind() -> None:
    assert bulk._processors(postgresql.dialect(), schema.items, COLUMNS) == (None, None, None)


def test_columns_of_other_types_keep_sqlalchemy_s_own_processors() -> None:
    dialect = sqlite.dialect()
    columns = ("fetched_once", "consecutive_failures", "last_success_at")
    ours = bulk._processors(dialect, schema.sources, columns)
    theirs = sqlalchemy_processors(dialect, schema.sources, columns)
    assert ours[0] is not None
    assert [ours[0](flag) for flag in (True, False)] == [theirs[0](flag) for flag in (True, False)]
    assert ours[1] is None
    assert theirs[1] is None
    moment = datetime(2024, 9, 3, 8, 0, 1, 250_000)
    assert ours[2] is not None
    assert ours[2](moment) == theirs[2](moment)
