"""The lxml fast path gives exactly feedparser's items, or leaves the feed to feedparser.

Two corpora: feedparser's own test feeds (version 6.0.12, BSD licence, its LICENSE file inside
the archive), and feeds generated from the elements, escapes, dates and quirks real publishers
use. A fast path that declined everything would pass the comparison, so the share it takes is
asserted too.
"""

from __future__ import annotations

import os
import tarfile
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import FetchError
from monitor.sources.feed import parse_feed, parse_with_feedparser
from monitor.sources.plainfeed import read_plain_feed

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "feedparser-tests-6.0.12.tar.gz"
URL = "https://news.example.org/feeds/world.xml"


def feedparser_corpus() -> list[tuple[str, bytes]]:
    with tarfile.open(CORPUS) as archive:
        return [
            (member.name, archive.extractfile(member).read())  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile() and member.name.endswith(".xml")
        ]


def assert_same_items(body: bytes, headers: dict[str, str] | None = None) -> bool:
    """Whether the fast path took ``body``; when it did, its items are feedparser's."""
    headers = headers or {}
    if read_plain_feed(body, headers) is None:
        return False
    try:
        reference = parse_with_feedparser("s", body, url=URL, headers=headers)
    except FetchError:
        pytest.fail("the fast path took a body that feedparser refuses")
    assert parse_feed("s", body, url=URL, headers=headers) == reference
    return True


def test_feedparsers_own_test_feeds_give_the_same_items_either_way() -> None:
    corpus = feedparser_corpus()
    assert len(corpus) > 2000
    taken = [name for name, body in corpus if assert_same_items(body)]
    # its corpus is mostly oddities by design; the plain feeds among them take the fast path
    assert len(taken) > 300
    assert any("/rss/" in name for name in taken)
    assert any("/atom10/" in name for name in taken)


# --- generated feeds ---------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "Shanghai",
        "lab",
        "closes",
        "AT&T",
        "R&D",
        "<b>bold</b>",
        "&lt;i&gt;",
        "&amp;amp;",
        "&#8217;",
        "café",
        "上海",
        "  ",
        "\n",
        "<p>para</p>",
        "<br/>",
        "<script>x()</script>",
        "a < b",
        "Q&A",
        "&nbsp;",
        "]]",
        '"quoted"',
    ]
)
TEXT = st.lists(WORDS, max_size=8).map(" ".join)
DATES = st.one_of(
    st.datetimes(
        min_value=datetime(1995, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ).flatmap(
        lambda d: st.sampled_from(
            [
                format_datetime(d),
                format_datetime(d.astimezone().replace(tzinfo=None)) + " GMT",
                d.isoformat(),
                d.strftime("%Y-%m-%dT%H:%M:%SZ"),
                d.strftime("%a, %d %b %Y %H:%M:%S EST"),
                d.strftime("%d %b %Y"),
                (d + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            ]
        )
    ),
    st.sampled_from(["", "yesterday", "2024-13-45", "Tue, 31 Feb 2024 10:00:00 GMT"]),
)


def element(tag: str, text: str, how: str, attributes: str = "") -> str:
    if how == "cdata" and "]]>" not in text:
        return f"<{tag}{attributes}><![CDATA[{text}]]></{tag}>"
    return f"<{tag}{attributes}>{escape(text)}</{tag}>"


@st.composite
def rss_item(draw: st.DrawFn) -> str:
    parts = []
    how = draw(st.sampled_from(["escaped", "cdata"]))
    if draw(st.booleans()):
        parts.append(element("title", draw(TEXT), how))
    if draw(st.booleans()):
        parts.append(
            element(
                "link",
                draw(st.sampled_from(["/a/1", "https://x.org/a?b=1&c=2", " https://y.org/p "])),
                "escaped",
            )
        )
    if draw(st.booleans()):
        permalink = draw(st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"']))
        guid = draw(st.sampled_from(["https://x.org/g/1", "tag:x.org,2024:1", "g-1"]))
        parts.append(f"<guid{permalink}>{escape(guid)}</guid>")
    if draw(st.booleans()):
        parts.append(element("description", draw(TEXT), how))
    if draw(st.booleans()):
        parts.append(element("content:encoded", draw(TEXT), "cdata"))
    if draw(st.booleans()):
        parts.append(element("pubDate", draw(DATES), "escaped"))
    if draw(st.booleans()):
        parts.append(element("dc:date", draw(DATES), "escaped"))
    author = draw(st.sampled_from(["", "author", "dc:creator"]))
    if author:
        parts.append(
            element(
                author,
                draw(st.sampled_from(["Jo Bloggs", "jo@x.org (Jo Bloggs)", "jo@x.org"])),
                "escaped",
            )
        )
    for term in draw(
        st.lists(st.sampled_from(["China", "Tech & Science", " spaced ", ""]), max_size=3)
    ):
        parts.append(element("category", term, "escaped"))
    if draw(st.integers(0, 9)) == 0:
        parts.append('<enclosure url="https://x.org/a.mp3" type="audio/mpeg" length="1"/>')
    if draw(st.integers(0, 9)) == 0:
        parts.append('<media:thumbnail url="https://x.org/t.jpg"/>')
    if draw(st.integers(0, 9)) == 0:
        parts.append("<!-- a comment -->")
    parts = draw(st.permutations(parts))
    return "<item>" + "".join(parts) + "</item>"


@st.composite
def rss_feed(draw: st.DrawFn) -> bytes:
    items = "".join(draw(st.lists(rss_item(), max_size=5)))
    channel = "<title>World</title><link>https://news.example.org/</link>"
    if draw(st.booleans()):
        channel += "<ttl>30</ttl>"
    if draw(st.booleans()):
        channel += '<atom:link href="https://news.example.org/feed" rel="self"/>'
    declaration = draw(
        st.sampled_from(['<?xml version="1.0" encoding="utf-8"?>', '<?xml version="1.0"?>', ""])
    )
    return (
        f'{declaration}<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"'
        f' xmlns:media="http://search.yahoo.com/mrss/"><channel>{channel}{items}</channel></rss>'
    ).encode()


@st.composite
def atom_entry(draw: st.DrawFn) -> str:
    parts = []
    for tag in ("title", "summary", "content"):
        if draw(st.booleans()):
            kind = draw(st.sampled_from(["", ' type="text"', ' type="html"']))
            parts.append(
                element(tag, draw(TEXT), draw(st.sampled_from(["escaped", "cdata"])), kind)
            )
    for _ in range(draw(st.integers(0, 3))):
        rel = draw(st.sampled_from(["", ' rel="alternate"', ' rel="enclosure"', ' rel="related"']))
        kind = draw(st.sampled_from(["", ' type="text/html"', ' type="audio/mpeg"']))
        href = draw(
            st.sampled_from(["https://x.org/a/1", "/relative/2", "https://x.org/a?b=1&c=2"])
        )
        parts.append(f"<link{rel}{kind} href={quoteattr(href)}/>")
    if draw(st.booleans()):
        parts.append(
            element(
                "id", draw(st.sampled_from(["https://x.org/id/1", "tag:x.org,2024:1"])), "escaped"
            )
        )
    for tag in ("published", "updated"):
        if draw(st.booleans()):
            parts.append(element(tag, draw(DATES), "escaped"))
    if draw(st.booleans()):
        name = element("name", "Jo Bloggs", "escaped") if draw(st.booleans()) else ""
        email = element("email", "jo@x.org", "escaped") if draw(st.booleans()) else ""
        parts.append(f"<author>{name}{email}</author>")
    for term in draw(st.lists(st.sampled_from(["China", "Tech & Science", ""]), max_size=2)):
        parts.append(f"<category term={quoteattr(term)}/>")
    parts = draw(st.permutations(parts))
    return "<entry>" + "".join(parts) + "</entry>"


@st.composite
def atom_feed(draw: st.DrawFn) -> bytes:
    entries = "".join(draw(st.lists(atom_entry(), max_size=5)))
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        '<title>World</title><link href="https://news.example.org/"/><id>urn:x</id>'
        f"<updated>2024-09-03T08:00:00Z</updated>{entries}</feed>"
    ).encode()


@settings(
    max_examples=int(os.environ.get("MONITOR_FEED_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.one_of(rss_feed(), atom_feed()))
def test_generated_feeds_give_the_same_items_either_way(body: bytes) -> None:
    assert_same_items(body)


def test_the_fast_path_takes_most_plain_generated_feeds() -> None:
    taken = 0
    examples = 0

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.one_of(rss_feed(), atom_feed()))
    def count(body: bytes) -> None:
        nonlocal taken, examples
        examples += 1
        taken += assert_same_items(body)

    count()
    assert taken > examples // 2


def in_item(xml: bytes) -> bytes:
    return b'<rss version="2.0"><channel><item>' + xml + b"</item></channel></rss>"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel/></rss>', {}),
        (
            b'<rss version="2.0"><channel/></rss>',
            {"content-type": "text/xml; charset=windows-1252"},
        ),
        (b'<!DOCTYPE rss [<!ENTITY e "x">]><rss version="2.0"><channel/></rss>', {}),
        (b'<rss version="2.0" xml:base="https://x.org/"><channel/></rss>', {}),
        (b'<rss version="0.91"><channel/></rss>', {}),
        (in_item(b"<title>a<b>b</b></title>"), {}),
        (in_item(b"<title>a</title><title>b</title>"), {}),
        (in_item(b'<media:title xmlns:media="m">a</media:title>'), {}),
        (in_item(b"<description>don&#146;t</description>"), {}),
        (in_item(b"<title>don&#X92;t</title>"), {}),
        (in_item(b"<title>&#0128;</title>"), {}),
        (in_item("<title>caf\u00e9 \u0085 news</title>".encode()), {}),
        (b'<rss version="2.0"><channel><item><title>open', {}),
    ],
    ids=[
        "latin-1",
        "http-charset",
        "entities",
        "xml-base",
        "rss-0.91",
        "markup-in-title",
        "repeated-title",
        "unknown-element",
        "cp1252-reference",
        "cp1252-hex-reference",
        "c1-padded-reference",
        "c1-control",
        "malformed",
    ],
)
def test_feeds_the_fast_path_leaves_to_feedparser(body: bytes, headers: dict[str, str]) -> None:
    assert read_plain_feed(body, headers) is None


def test_the_fast_path_reads_utf8_beyond_c1() -> None:
    # U+00A0 and U+0100 are written with the lead bytes 0xC2 and 0xC4, beside the C1 range
    title = "caf\u00e9\u00a0\u0100 \u5317\u4eac"
    read = read_plain_feed(in_item(f"<title>{title}</title>".encode()), {})
    assert read is not None
    assert read[0][0]["title"] == title


_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Sunday", "Xyz"]
_MONTH_WORDS = ["Jan", "Feb", "FEB", "nov", "Dec", "June", "Foo"]


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from([*_DAYS, ""]),
    st.integers(0, 32),
    st.sampled_from(_MONTH_WORDS),
    st.integers(1, 9999),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(
        [
            *("+0000", "-0000", "+0030", "-0045", "-0500", "+0530", "-1259", "+9999"),
            *("GMT", "gmt", "UT", "EST", "Z"),
        ]
    ),
    st.sampled_from(["{d}, ", "{d} ", ""]),
)
def test_the_common_rfc822_dates_read_as_feedparser_reads_them(
    day_name: str,
    day: int,
    month: str,
    year: int,
    hour: int,
    minute: int,
    second: int,
    zone: str,
    day_form: str,
) -> None:
    from feedparser.datetimes import _parse_date as feedparser_date

    from monitor.sources.plainfeed import _date

    head = day_form.format(d=day_name) if day_name else ""
    text = f"{head}{day:02d} {month} {year:04d} {hour:02d}:{minute:02d}:{second:02d} {zone}"
    assert _date(text) == feedparser_date(text)
