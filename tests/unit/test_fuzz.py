"""Property-based fuzzing of everything that reads untrusted input: feeds, pages, config, rules.

The property is the same everywhere: a parser returns its value or raises the monitor's own
error (``FetchError`` for source bodies, ``ConfigError`` for YAML files), never any other
exception, because anything else escapes the error handling around it.

CI runs 200 examples per property. The long run:

    MONITOR_FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/unit/test_fuzz.py

Inputs that crashed ``monitor/`` when fuzzing found them are kept as plain regression tests in
``FOUND_CRASHES`` (``test_input_that_once_crashed_stays_handled``). Add each new one there,
marked ``xfail(strict=True, reason=...)`` until ``monitor/`` is fixed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from monitor.config import load_rules, load_settings
from monitor.config.schema import Selectors, Settings
from monitor.errors import ConfigError, FetchError
from monitor.match.rule import Rule
from monitor.model import Item
from monitor.sources.article import extract_article
from monitor.sources.discover import read_page_without_selectors
from monitor.sources.feed import parse_feed
from monitor.sources.page import parse_page
from monitor.sources.text import ParsedFeed

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("MONITOR_FUZZ_EXAMPLES", "200"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # Inside an ignored folder, so replaying a failure needs no untracked .hypothesis/ in the repo.
    database=DirectoryBasedExampleDatabase(str(ROOT / ".pytest_cache" / "hypothesis")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SELECTORS = Selectors(item="article", title="h3", link="a@href", summary="p", date="time@datetime")
CHANNELS = {"ops", "terminal"}


def returns_or_raises(call: Callable[[], Any], expected: type[Exception]) -> Any:
    """``call()``'s value, or None when it raised ``expected``; anything else fails the test."""
    try:
        return call()
    except expected:
        return None


# --- checks on results ----------------------------------------------------------------------

ITEM_TEXT = ("source", "title", "url", "summary", "content", "guid", "author")


def check_items(parsed: object) -> None:
    assert isinstance(parsed, ParsedFeed)
    assert parsed.warning is None or isinstance(parsed.warning, str)
    for item in parsed.items:
        assert isinstance(item, Item)
        for name in ITEM_TEXT:
            assert isinstance(getattr(item, name), str), name
        assert "\x00" not in item.title
        assert "\x00" not in item.summary
        assert isinstance(item.tags, tuple)
        assert all(isinstance(tag, str) for tag in item.tags)
        if item.published is not None:
            assert isinstance(item.published, datetime)
            assert item.published.tzinfo is not None


def feed(body: bytes) -> ParsedFeed:
    return parse_feed("fuzz", body, url="https://fuzz.example.org/feed", headers={})


def page(body: bytes) -> ParsedFeed:
    return parse_page("fuzz", body, url="https://fuzz.example.org/news", selectors=SELECTORS)


# --- strategies -----------------------------------------------------------------------------


def _text_bytes(max_size: int = 24) -> st.SearchStrategy[bytes]:
    return st.text(max_size=max_size).map(lambda s: s.encode("utf-8", "surrogatepass"))


ODD_VALUES = [
    b"http://[",
    b"http://[::1/x",
    b"https://fuzz.example.org/a?utm_source=x#f",
    b"/relative/path",
    b"javascript:alert(1)",
    b"http://169.254.169.254/latest/meta-data/",
    b"Tue, 03 Sep 2024 08:30:00 GMT",
    b"2024-09-03T08:30:00Z",
    b"0001-01-01T00:00:00+01:00",
    b"9999-12-31T23:59:59-01:00",
    b"Mon, 32 Foo 99999 25:61:61 +9999",
    b"AWS shuts down its AI research lab in Shanghai",
    "中国 上海 Zürich \u0301 \u202e".encode(),
]

FEED_FRAGMENTS = [
    b'<?xml version="1.0" encoding="UTF-8"?>',
    b'<?xml version="1.0" encoding="utf-16"?>',
    b'<?xml version="1.0" encoding="x-unknown"?>',
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b'<rss version="2.0">',
    b'<rss version="0.91">',
    b"</rss>",
    b"<channel>",
    b"</channel>",
    b"<item>",
    b"</item>",
    b'<feed xmlns="http://www.w3.org/2005/Atom">',
    b"</feed>",
    b"<entry>",
    b"</entry>",
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    b'xmlns="http://purl.org/rss/1.0/">',
    b"<title>",
    b"</title>",
    b'<title type="html">',
    b"<link>",
    b"</link>",
    b'<link rel="alternate" href="',
    b'"/>',
    b'<guid isPermaLink="false">',
    b"</guid>",
    b"<id>",
    b"</id>",
    b"<description>",
    b"</description>",
    b'<summary type="html">',
    b"</summary>",
    b'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">',
    b"</div></content>",
    b"<content:encoded>",
    b"</content:encoded>",
    b"<pubDate>",
    b"</pubDate>",
    b"<updated>",
    b"</updated>",
    b"<category>",
    b'<category term="',
    b"</category>",
    b"<author><name>",
    b"</name></author>",
    b'<enclosure url="',
    b"&amp;",
    b"&lt;b&gt;",
    b"&#0;",
    b"&#x110000;",
    b"&#99999999999;",
    b"&#65;",
    b"&nbsp;",
    b"&undefined;",
    b"<![CDATA[",
    b"]]>",
    b"<!DOCTYPE rss [",
    b'<!ENTITY e "expanded">',
    b'<!ENTITY x SYSTEM "file:///etc/passwd">',
    b'<!ENTITY % p "x">',
    b"]>",
    b"&e;",
    b"&x;",
    b"<!--",
    b"-->",
    b"\x00",
    b"\x1b[31m",
    b"<script>alert(1)</script>",
    b"<p>",
    b"</p>",
    b"<img src=x onerror=alert(1)>",
    b'"',
    b"<",
    b">",
    *ODD_VALUES,
]


@st.composite
def feed_like(draw: st.DrawFn) -> bytes:
    """Feed-ish bytes: tags, entities, CDATA, DTDs, NULs and odd values glued in any order."""
    piece = st.sampled_from(FEED_FRAGMENTS) | _text_bytes() | st.binary(max_size=8)
    return b"".join(draw(st.lists(piece, max_size=80)))


JSON_FEED_KEYS = [
    "version",
    "title",
    "items",
    "id",
    "url",
    "external_url",
    "title",
    "summary",
    "content_text",
    "content_html",
    "date_published",
    "date_modified",
    "author",
    "authors",
    "name",
    "tags",
]
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from([v.decode() for v in ODD_VALUES])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(JSON_FEED_KEYS) | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=25,
)


@st.composite
def json_feed_like(draw: st.DrawFn) -> bytes:
    """A JSON Feed envelope (so the JSON path is taken) around arbitrary entries."""
    entries = draw(
        st.lists(
            st.dictionaries(st.sampled_from(JSON_FEED_KEYS), json_values, max_size=8) | json_values,
            max_size=5,
        )
    )
    doc: dict[str, Any] = {"version": "https://jsonfeed.org/version/1.1", "items": entries}
    if draw(st.booleans()):
        doc["items"] = draw(json_values)
    text = json.dumps(doc)
    if draw(st.booleans()):  # truncated or corrupted JSON
        cut = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:cut] + draw(st.text(max_size=5))
    return text.encode("utf-8", "surrogatepass")


PAGE_FRAGMENTS = [
    "<!DOCTYPE html>",
    "<html>",
    "<body>",
    "<article>",
    "</article>",
    "<article class='a'>",
    "<h3>",
    "</h3>",
    '<a href="',
    '">',
    "</a>",
    "<a href>",
    "<p>",
    "</p>",
    '<time datetime="',
    '"></time>',
    "<script>",
    "</script>",
    "<style>",
    "<noscript>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<![if !IE]>",
    "<!",
    "<?php ?>",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "&unknown;",
    "\x00",
    "<",
    "</",
    ">",
    '"',
    "'",
    *(v.decode() for v in ODD_VALUES),
]


@st.composite
def page_like(draw: st.DrawFn) -> str:
    piece = st.sampled_from(PAGE_FRAGMENTS) | st.text(max_size=16)
    return "".join(draw(st.lists(piece, max_size=80)))


SETTINGS_WORDS = [
    "state",
    "rules",
    "smtp",
    "host",
    "port",
    "starttls",
    "tls",
    "username",
    "password",
    "ca_file",
    "defaults",
    "every",
    "first_fetch",
    "timeout",
    "max_body_bytes",
    "concurrency",
    "delivery_max_age",
    "sources",
    "name",
    "feed",
    "page",
    "select",
    "item",
    "title",
    "link",
    "summary",
    "date",
    "channels",
    "slack",
    "email",
    "to",
    "from",
    "webhook",
    "secret",
    "headers",
    "console",
    "format",
    "all",
]
RULE_WORDS = [
    "rules",
    "name",
    "description",
    "notify",
    "match",
    "all",
    "any",
    "none",
    "in",
    "title",
    "summary",
    "content",
    "source",
    "url",
    "author",
    "tags",
    "ops",
    "terminal",
    "near",
    "within",
    "sentence",
    "ordered",
    "at_least",
    "of",
    "score",
    "threshold",
    "weight",
    "title_weight",
    "regex",
    "list",
    "severity",
    "examples",
    "no_match",
    "@lists",
    "(a|",
    "close*",
]
YAML_VALUES = [
    "10m",
    "90s",
    "0s",
    "-1m",
    "1.5h",
    "2d",
    "alert",
    "baseline",
    "json",
    "https://example.org/feed",
    "ftp://example.org",
    "http://[",
    "a@example.org",
    "article",
    "h3[",
    "a@href",
    "AWS",
    "US * firm*",
    "*",
    "**",
    "＊",
    "\u0301",
    "中国",
    "2024-09-03",
    "2024-13-01",
    "2024-02-30 25:00:00",
    "0x1F",
    "0o17",
    "1_000",
    "1:30:00",
    ".nan",
    "-.inf",
    "~",
    "null",
    "yes",
    "no",
    "on",
    "9" * 4400,
    "${HOME}",
    "${MONITOR_FUZZ_SURELY_UNSET}",
    "!!python/object/apply:os.system ['true']",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "&anchor",
    "*anchor",
    "<<: *anchor",
]
YAML_SYNTAX = [
    "\n",
    "\n  ",
    "\n    ",
    "  ",
    "- ",
    ": ",
    ":",
    "? ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "'",
    '"',
    "#",
    "\t",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "|\n  ",
    ">-\n  ",
    "\\",
    "\x00",
    "\ufeff",
]


def yaml_soup(words: list[str]) -> st.SearchStrategy[str]:
    """YAML-ish text: keys, values and syntax glued in any order."""
    piece = (
        st.sampled_from([f"{w}: " for w in words])
        | st.sampled_from(words)
        | st.sampled_from(YAML_VALUES)
        | st.sampled_from(YAML_SYNTAX)
        | st.text(max_size=10)
    )
    return st.lists(piece, max_size=60).map("".join)


def yaml_documents(words: list[str]) -> st.SearchStrategy[str]:
    """Well-formed YAML built from the schema's own words, so validation is reached."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.dates()
        | st.text(max_size=12)
        | st.sampled_from(YAML_VALUES)
    )
    keys = st.sampled_from(words) | st.text(max_size=6) | st.integers(-2, 2)
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
        max_leaves=30,
    )
    top = st.dictionaries(st.sampled_from(words), values, max_size=6) | values
    return top.map(lambda doc: yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


yaml_settings = yaml_soup(SETTINGS_WORDS) | yaml_documents(SETTINGS_WORDS)
yaml_rules = yaml_soup(RULE_WORDS) | yaml_documents(RULE_WORDS)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for every example (hypothesis cannot use function-scoped fixtures)."""
    return tmp_path_factory.mktemp("fuzz")


def settings_from(folder: Path, text: str) -> Settings:
    path = folder / "monitor.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return load_settings(path)


def rules_from(folder: Path, text: str) -> tuple[Rule, ...]:
    """The rules of a folder holding one file with ``text``."""
    rules_dir = folder / "rules"
    rules_dir.mkdir(exist_ok=True)
    (rules_dir / "fuzz.yaml").write_bytes(text.encode("utf-8", "surrogatepass"))
    return load_rules(rules_dir, CHANNELS)


# --- properties -----------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=4096))
def test_parse_feed_on_arbitrary_bytes_returns_items_or_a_fetch_error(body: bytes) -> None:
    parsed = returns_or_raises(lambda: feed(body), FetchError)
    if parsed is not None:
        check_items(parsed)


@FUZZ
@given(feed_like())
def test_parse_feed_on_feed_like_fragments_returns_items_or_a_fetch_error(body: bytes) -> None:
    parsed = returns_or_raises(lambda: feed(body), FetchError)
    if parsed is not None:
        check_items(parsed)


@FUZZ
@given(json_feed_like())
def test_parse_feed_on_json_feed_like_bodies_returns_items_or_a_fetch_error(body: bytes) -> None:
    parsed = returns_or_raises(lambda: feed(body), FetchError)
    if parsed is not None:
        check_items(parsed)


@FUZZ
@given(page_like() | st.text(max_size=2048))
def test_parse_page_returns_items_or_a_fetch_error(markup: str) -> None:
    parsed = returns_or_raises(lambda: page(markup.encode("utf-8", "surrogatepass")), FetchError)
    if parsed is not None:
        check_items(parsed)
        assert all(item.title for item in parsed.items)


@FUZZ
@given(st.binary(max_size=2048))
def test_parse_page_on_arbitrary_bytes_returns_items_or_a_fetch_error(body: bytes) -> None:
    parsed = returns_or_raises(lambda: page(body), FetchError)
    if parsed is not None:
        check_items(parsed)


@FUZZ
@given(page_like() | st.text(max_size=2048))
def test_a_page_without_selectors_gives_items_a_feed_link_or_a_fetch_error(markup: str) -> None:
    body = markup.encode("utf-8", "surrogatepass")
    found = returns_or_raises(
        lambda: read_page_without_selectors("fuzz", body, url="https://fuzz.example.org/news"),
        FetchError,
    )
    if isinstance(found, ParsedFeed):
        check_items(found)
        assert found.items
    elif found is not None:
        assert isinstance(found, str)
        assert found != "https://fuzz.example.org/news"  # never the page itself: no loop


@FUZZ
@given(page_like() | st.text(max_size=2048) | st.binary(max_size=2048))
def test_article_extraction_never_raises(markup: str | bytes) -> None:
    body = markup if isinstance(markup, bytes) else markup.encode("utf-8", "surrogatepass")
    for content_type in (None, "text/html; charset=gbk", "text/html; charset=nonsense"):
        article = extract_article(body, url="https://fuzz.example.org/a", content_type=content_type)
        assert isinstance(article.text, str)
        assert article.method in ("none", "json-ld", "marked", "density", "body")


@FUZZ
@given(yaml_settings | st.text(max_size=512))
def test_load_settings_returns_settings_or_a_config_error(scratch: Path, text: str) -> None:
    result = returns_or_raises(lambda: settings_from(scratch, text), ConfigError)
    assert result is None or isinstance(result, Settings)


@FUZZ
@given(yaml_rules | st.text(max_size=512))
def test_load_rules_returns_rules_or_a_config_error(scratch: Path, text: str) -> None:
    result = returns_or_raises(lambda: rules_from(scratch, text), ConfigError)
    if result is not None:
        assert all(isinstance(rule, Rule) for rule in result)


# --- crashes fuzzing found, one regression test each --------------------------------------

JSON_FEED = '{"version": "https://jsonfeed.org/version/1.1", "items": %s}'


def _rss_item(inner: str) -> bytes:
    return f'<rss version="2.0"><channel><item>{inner}</item></channel></rss>'.encode()


def _page_item(inner: str) -> bytes:
    return f"<html><body><article><h3>Headline</h3>{inner}</article></body></html>".encode()


#: Each input crashed ``monitor/`` at ea1ea1f with an exception other than the monitor's own
#: (shown in the comment); each must now return or raise FetchError/ConfigError. A new crash
#: goes here too, marked ``xfail(strict=True, reason=...)`` until it is fixed.
FOUND_CRASHES: dict[str, Callable[[Path], object]] = {
    # ValueError "Invalid IPv6 URL" from urljoin() in sources/feed.py
    "feed-link-invalid-ipv6": lambda _: feed(
        _rss_item("<title>Headline</title><link>http://[x/</link>")
    ),
    # ValueError "Invalid IPv6 URL" from urljoin() in sources/page.py
    "page-link-invalid-ipv6": lambda _: page(_page_item('<a href="http://[x">more</a>')),
    # ValueError "Invalid IPv6 URL" from urljoin() in sources/jsonfeed.py
    "jsonfeed-link-invalid-ipv6": lambda _: feed(
        (JSON_FEED % '[{"title": "Headline", "url": "http://[x"}]').encode()
    ),
    # OverflowError "date value out of range": parse_date()'s astimezone(UTC) on year 1, +01:00
    "date-out-of-range": lambda _: page(
        _page_item('<time datetime="0001-01-01T00:00:00+01:00"></time>')
    ),
    # TypeError "'int' object is not iterable": JSON Feed "authors" iterated unchecked
    "jsonfeed-authors-not-a-list": lambda _: feed(
        (JSON_FEED % '[{"title": "Headline", "authors": 5}]').encode()
    ),
    # RecursionError from json.loads() on nesting deeper than the recursion limit
    "jsonfeed-deep-nesting": lambda _: feed((JSON_FEED % ("[" * 5000 + "]" * 5000)).encode()),
    # ValueError "chr() arg not in range(0x110000)" in feedparser's loose parser
    "feed-charref-beyond-unicode": lambda _: feed(_rss_item("<title>A &#x110000; B</title>")),
    # OverflowError "Python int too large to convert to C int" in feedparser's loose parser
    "feed-charref-too-big": lambda _: feed(_rss_item("<title>A &#99999999999; B</title>")),
    # DeprecationWarning from feedparser: _published() reads updated_parsed where only
    # published_parsed exists (an error under the suite's warnings-as-errors)
    "feed-updated-parsed-fallback": lambda _: feed(b"<item></pubDate>"),
    # bs4 ParserRejectedMarkup ("expected name token at '<![0'") from parse_page()
    "page-markup-rejected": lambda _: page(_page_item("<![0")),
    # MarkupResemblesLocatorWarning from bs4 in parse_page() on a body that looks like a URL
    "page-body-looks-like-a-url": lambda _: page(b"http://["),
    # ValueError "month must be in 1..12" from PyYAML's timestamp constructor
    "yaml-invalid-date": lambda folder: settings_from(folder, "state: 2024-13-01\n"),
    # ValueError "day is out of range for month", the same constructor, in a rule file
    "yaml-invalid-datetime-in-rules": lambda folder: rules_from(folder, "2024-02-30 25:00:00"),
    # ValueError "Exceeds the limit (4300 digits) for integer string conversion"
    "yaml-huge-int": lambda folder: settings_from(folder, f"state: {'9' * 4400}\n"),
    # yaml.reader.ReaderError "special characters are not allowed", raised by
    # yaml.SafeLoader(text) before parse_yaml's try block
    "yaml-control-character": lambda folder: settings_from(folder, "state: a\x1fb\n"),
    # IndexError in match/syntax.py compile_term(): a term that folds to nothing (U+0301)
    "rule-term-folds-to-nothing": lambda folder: rules_from(
        folder, 'name: r\nnotify: all\nmatch: "\\u0301"\n'
    ),
}


@pytest.mark.parametrize("name", list(FOUND_CRASHES))
def test_input_that_once_crashed_stays_handled(name: str, tmp_path: Path) -> None:
    expected = ConfigError if name.startswith(("yaml-", "rule-")) else FetchError
    result = returns_or_raises(lambda: FOUND_CRASHES[name](tmp_path), expected)
    if isinstance(result, ParsedFeed):
        check_items(result)
