"""Feed bytes to items for every format; bad bodies are classified errors, never empty lists."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.errors import FetchError, FetchErrorKind
from monitor.sources.feed import parse_feed, utc_datetime

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def parse(name: str, url: str = "https://base.example.org/feed") -> list:  # type: ignore[type-arg]
    return parse_feed("src", (FEEDS / name).read_bytes(), url=url, headers={}).items


def test_rss20_items_are_plain_text_with_utc_dates_and_tags() -> None:
    first, second, third = parse("rss20.xml")
    assert first.title == "Cloud giant AWS shuts its Shanghai AI research lab"
    assert first.summary.startswith("Amazon Web Services is closing the lablet")
    assert "<p>" not in first.summary
    assert first.published == datetime(2024, 9, 3, 8, 30, tzinfo=UTC)
    assert first.guid == "asia-tech-1001"
    assert first.author == "Staff reporter"
    assert first.tags == ("Cloud", "China")
    assert second.title.startswith("Typhoon")
    assert third.title.startswith("Microsoft opens")


def test_atom_relative_links_resolve_and_offsets_become_utc_and_scripts_are_dropped() -> None:
    first, _ = parse("atom10.xml")
    assert first.url == "https://base.example.org/notes/ibm-china-rd"
    assert first.title == "IBM winds down its China research & development centre"
    assert first.published == datetime(2024, 6, 10, 9, 0, tzinfo=UTC)
    assert first.content == "The company said the move was part of a global reorganisation."
    assert first.tags == ("research",)


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("rss10.xml", "Intel scales back Shenzhen office after restructuring"),
        ("rss091.xml", "Oracle to close Chinese R&D hub, cutting 900 jobs"),
        ("jsonfeed.json", "Cisco shutters Hangzhou development center"),
    ],
)
def test_other_formats_parse(name: str, title: str) -> None:
    (only,) = parse(name)
    assert only.title == title
    assert only.url.startswith("https://")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b"<!DOCTYPE html><html><body><form>Log in</form></body></html>", "an HTML page"),
        (b'{"error": "rate limited"}', "not a feed"),
    ],
    ids=["empty", "blank", "html-login-page", "json-error"],
)
def test_bodies_that_are_not_feeds_are_errors(body: bytes, message: str) -> None:
    with pytest.raises(FetchError) as exc:
        parse_feed("src", body, url="https://e.org/f", headers={})
    assert exc.value.kind is FetchErrorKind.NOT_A_FEED
    assert message in str(exc.value)
    assert "src" in str(exc.value)


def test_truncated_feed_yields_recovered_items_with_a_warning() -> None:
    body = (FEEDS / "rss20.xml").read_bytes()
    cut = body[: body.index(b"<title>Typhoon")]
    parsed = parse_feed("src", cut, url="https://e.org/f", headers={})
    assert next(i.title for i in parsed.items).startswith("Cloud giant AWS")
    assert parsed.warning is not None
    assert "malformed" in parsed.warning


def test_empty_feed_is_reported_as_a_warning() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>'
    parsed = parse_feed("src", body, url="https://e.org/f", headers={})
    assert parsed.items == []
    assert parsed.warning == "feed has no items"


def test_external_entity_is_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN-5f1e2d")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>t</title><item><title>a &xxe; b</title>'
        "<link>https://e.org/1</link></item></channel></rss>"
    ).encode()
    parsed = parse_feed("src", body, url="https://e.org/f", headers={})
    assert all("TOKEN-5f1e2d" not in (i.title + i.summary) for i in parsed.items)


def test_missing_or_wrong_content_type_is_not_reported_as_malformed() -> None:
    body = (FEEDS / "rss20.xml").read_bytes()
    for headers in (
        {},
        {"content-type": "text/plain"},
        {"content-type": "text/xml; charset=latin-1"},
    ):
        parsed = parse_feed("src", body, url="https://e.org/f", headers=headers)
        assert len(parsed.items) == 3
        assert parsed.warning is None, headers


def _by_timegm(parsed: time.struct_time) -> datetime | None:
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


@settings(max_examples=500, deadline=None)
@given(
    st.tuples(
        st.integers(-5, 10_050),  # year, 9999 and beyond too
        st.integers(-1, 14),
        st.integers(-1, 33),
        st.integers(-1, 25),
        st.integers(-1, 61),
        st.integers(-1, 62),
    )
)
@example((2026, 11, 1, 8, 0, 0))
@example((2026, 2, 31, 23, 59, 60))  # carried over into March, as timegm reads it
def test_a_parsed_date_is_the_time_timegm_names(fields: tuple[int, ...]) -> None:
    parsed = time.struct_time((*fields, 0, 1, 0))
    assert utc_datetime(parsed) == _by_timegm(parsed)
