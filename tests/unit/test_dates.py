from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.sources.text import parse_date

SEPT_3 = datetime(2024, 9, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2024-09-03",
        "2024-09-03T00:00:00Z",
        "Tue, 03 Sep 2024 00:00:00 GMT",
        "3 September 2024",
        "3 Sep 2024",
        "September 3, 2024",
        "Sep. 3, 2024",
        "Tuesday, 3rd September 2024",
        "2024/09/03",
        "2024.09.03",
        "03.09.2024",
        "03/09/2024",
        "2024年9月3日",
        "  3   September   2024 ",
    ],
)
def test_dates_as_pages_write_them_are_read(text: str) -> None:
    assert parse_date(text) == SEPT_3


def test_a_written_time_is_kept() -> None:
    assert parse_date("2024-09-03 08:30") == SEPT_3.replace(hour=8, minute=30)
    assert parse_date("September 3, 2024 17:05") == SEPT_3.replace(hour=17, minute=5)


@pytest.mark.parametrize(
    "text", ["", "yesterday", "31 February 2024", "2024/13/45", "3 Smarch 2024"]
)
def test_anything_else_is_no_date_rather_than_an_error(text: str) -> None:
    assert parse_date(text) is None
