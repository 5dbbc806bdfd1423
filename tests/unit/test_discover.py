from __future__ import annotations

import pytest

from monitor.errors import FetchError, FetchErrorKind
from monitor.sources.discover import feed_link, headline_links, read_page_without_selectors
from monitor.sources.text import parse_html

PAGE_URL = "https://news.example.org/section/tech/"


def soup(markup: str):  # type: ignore[no-untyped-def]
    parsed = parse_html(markup)
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<link rel="alternate" type="application/rss+xml" href="/feed.xml">', "/feed.xml"),
        ('<link rel="alternate" type="application/atom+xml" href="atom">', "/section/tech/atom"),
        ('<link type="application/feed+json" rel="Alternate" href="/f.json">', "/f.json"),
        ('<link rel="stylesheet" type="text/css" href="/s.css">', None),
        ('<link rel="alternate" hreflang="fr" href="/fr/">', None),
    ],
)
def test_the_feed_a_page_declares_is_found_and_made_absolute(
    head: str, expected: str | None
) -> None:
    found = feed_link(soup(f"<html><head>{head}</head><body></body></html>"), PAGE_URL)
    assert found == (None if expected is None else f"https://news.example.org{expected}")


def test_headline_links_skip_navigation_short_links_and_other_sites() -> None:
    markup = """
    <header><a href="/a">Sign in to read the whole of today's paper</a></header>
    <nav><a href="/b">Technology and science news from around the world</a></nav>
    <ul class="main-menu"><li><a href="/m">Everything about markets and the economy</a></li></ul>
    <main>
      <article>
        <h2><a href="/story-1?utm_source=home">Chip maker shuts its design centre in Xi'an</a></h2>
        <p>Forty engineers are affected.</p><time datetime="2024-09-03T10:00:00Z"></time></article>
      <article><h2><a href="/story-1">Chip maker shuts its design centre in Xi'an</a></h2></article>
      <article><a href="/more">More</a></article>
      <article>
        <a href="https://elsewhere.example.com/x">A story on a different website entirely</a>
      </article>
      <article><a href="javascript:void(0)">Open the menu of all sections here</a></article>
    </main>
    <footer><a href="/jobs">Work with us in one of our offices</a></footer>"""
    parsed = headline_links("src", soup(markup), PAGE_URL)
    assert [i.title for i in parsed.items] == ["Chip maker shuts its design centre in Xi'an"]
    item = parsed.items[0]
    assert item.url == "https://news.example.org/story-1?utm_source=home"
    assert item.summary == "Forty engineers are affected."
    assert item.published is not None
    assert item.published.isoformat() == "2024-09-03T10:00:00+00:00"


def test_a_page_with_a_feed_link_points_to_the_feed() -> None:
    page = (
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head></html>'
    )
    assert read_page_without_selectors("src", page, url=PAGE_URL) == "https://news.example.org/rss"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"", FetchErrorKind.NOT_A_FEED),
        (
            b"<html><body><p>Nothing to see</p><a href='/x'>x</a></body></html>",
            FetchErrorKind.PARSE,
        ),
    ],
)
def test_a_page_with_nothing_to_offer_is_an_error_not_a_quiet_day(
    body: bytes, kind: FetchErrorKind
) -> None:
    with pytest.raises(FetchError) as caught:
        read_page_without_selectors("src", body, url=PAGE_URL)
    assert caught.value.kind is kind
    assert caught.value.source == "src"


def test_a_headline_link_too_broken_to_follow_is_skipped() -> None:
    page = soup(
        '<main><a href="http://[">A headline whose link cannot be parsed at all</a>'
        '<a href="/news/1">A headline whose link is perfectly fine here</a></main>'
    )
    found = headline_links("src", page, PAGE_URL)
    assert [item.url for item in found.items] == ["https://news.example.org/news/1"]
