from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from urllib.parse import urljoin

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.model import Item
from monitor.sources.normalize import (
    canonical_path,
    canonical_url,
    clean_text,
    identity_keys,
    title_fingerprint,
    url_parts,
    url_parts_by_urlsplit,
)
from monitor.sources.text import join_url


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://www.e.org/a?utm_source=rss&utm_medium=x", "http://e.org/a"),
        ("https://e.org/a/", "https://e.org/a#comments"),
        ("https://e.org/a?b=2&a=1", "https://e.org/a?a=1&b=2&fbclid=zzz"),
        ("https://E.ORG/story/amp", "https://e.org/story"),
        ("https://e.org:443/x", "https://e.org/x"),
        ("https://amp.e.org/world/story", "https://www.e.org/world/story"),
        ("https://e.org/amp/world/story", "https://e.org/world/story"),
        ("https://e.org/world/story.amp", "https://e.org/world/story"),
        ("https://e.org/world/story?outputType=amp", "https://e.org/world/story"),
        ("https://e.org/world/story?amp=1", "https://e.org/world/story"),
    ],
    ids=[
        "tracking-www-scheme",
        "slash-fragment",
        "param-order-fbclid",
        "amp-and-case",
        "port",
        "amp-subdomain",
        "amp-prefix",
        "amp-suffix",
        "amp-output-type",
        "amp-param",
    ],
)
def test_same_story_urls_share_a_canonical_form(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


def test_different_pages_keep_different_canonical_urls() -> None:
    assert canonical_url("https://e.org/a?id=1") != canonical_url("https://e.org/a?id=2")
    assert canonical_url("https://e.org/a") != canonical_url("https://f.org/a")


def test_title_fingerprint_ignores_case_and_punctuation_but_not_short_titles() -> None:
    assert title_fingerprint("AWS shuts Shanghai lab!") == title_fingerprint(
        "aws SHUTS shanghai lab"
    )
    assert title_fingerprint("Breaking news") is None


def test_identity_keys_most_specific_first() -> None:
    it = Item(source="s", title="AWS shuts its Shanghai lab", url="https://e.org/a", guid="g1")
    keys = identity_keys(it)
    assert keys[0] == "guid:s:g1"
    assert keys[1] == "url:e.org/a"
    assert keys[2].startswith("title:")


def test_item_without_guid_url_or_long_title_still_gets_a_key() -> None:
    keys = identity_keys(Item(source="s", title="Hi", url="", summary="text"))
    assert len(keys) == 1
    assert keys[0].startswith("hash:s:")


def test_clean_text_strips_nul_and_controls_and_cuts_with_marker() -> None:
    assert clean_text("a\x00b\x07 \n c", 100) == "ab c"
    assert clean_text("x" * 50, 10) == "x" * 9 + "…"


def _folded_always(text: str, limit: int) -> str:
    """clean_text without its shortcut for text that is one line already."""
    text = " ".join(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def test_no_printable_character_is_white_space_but_the_plain_space() -> None:
    # what clean_text's shortcut rests on, over every code point
    assert [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if chr(code).isprintable()
        and (chr(code).isspace() or code < 0x20 or code == 0x7F)
        and code != 0x20
    ] == []


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "Bé", " ", "  ", "\t", "\n", "\x00", "\x1f", "\xa0", "\u2028"])
        | st.text(max_size=3),
        max_size=12,
    ).map("".join),
    st.integers(1, 40),
)
@example("one line already", 100)
@example(" leading", 100)
@example("trailing ", 100)
def test_clean_text_gives_what_folding_every_text_gives(text: str, limit: int) -> None:
    assert clean_text(text, limit) == _folded_always(text, limit)


# Characters that urlsplit and urljoin treat specially, or that a fast path could mishandle.
_URL_ALPHABET = st.sampled_from(
    [*"aZ09.-_~/?#;:@[]%&=+ \t\n\\", "\x00", "\x7f", "é", "％", "ａ", "www.", "amp", "//"]
)
_URL_STARTS = st.sampled_from(
    ["http://", "https://", "HTTP://", "http:///", "ftp://", "//", "/", "", "https://e.org"]
)
urls = st.tuples(_URL_STARTS, st.lists(_URL_ALPHABET, max_size=14).map("".join)).map("".join)


@settings(max_examples=2000, deadline=None)
@given(urls)
@example("https://e.org:8080/a//b/")
@example("http://E.Org:80")
@example("http://e.org:0/x")
def test_canonical_url_fast_path_reads_urls_as_urlsplit_does(url: str) -> None:
    assert url_parts(url) == url_parts_by_urlsplit(url)


def _urljoin_or_link(base: str, link: str) -> str:
    try:
        return urljoin(base, link)
    except ValueError:
        return link


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(["http://b.org/feed/", "https://b.org/x?y", "", "file:///f"]), urls)
@example("http://b.org/feed/", "http:///path")
@example("http://b.org/feed/", "http://a.org/x?")
@example("http://b.org/feed/", "http://a.org/a/./b;p")
def test_join_url_fast_path_gives_what_urljoin_gives(base: str, link: str) -> None:
    assert join_url(base, link) == _urljoin_or_link(base, link)


def _fingerprint_by_regex(title: str) -> str | None:
    """title_fingerprint as first written: the keys already stored were made by it."""
    words = re.findall(r"\w+", unicodedata.normalize("NFKC", title).casefold())
    if len(words) < 4:
        return None
    return hashlib.sha256(" ".join(words).encode()).hexdigest()[:32]


_TITLE_ALPHABET = st.sampled_from(
    [*"aZ09_ -.,!'’()&/\t\n\x00\x7f", "é", "ß", "ﬁ", "Ｈ", "İ", "\u0301", "上海", "Σ", "½"]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_TITLE_ALPHABET | st.text(max_size=4), max_size=16).map("".join))
@example("AWS shuts its Shanghai lab (report 12.3)")
@example("Straße ﬁnal ＨＥＬＬＯ İstanbul")
def test_title_fingerprint_is_the_one_stored_keys_were_made_with(title: str) -> None:
    assert title_fingerprint(title) == _fingerprint_by_regex(title)


def _path_by_regexes(path: str) -> str:
    """canonical_path with both substitutions made whether or not they find anything."""
    path = re.sub(r"/+", "/", path or "/")
    return re.sub(r"^/amp(?=/)|/amp/?$|\.amp(?:\.html?)?$", "", path).rstrip("/") or "/"


@settings(max_examples=2000, deadline=None)
@given(urls)
@example("https://e.org//amp//")
@example("https://e.org/a.amp.html")
def test_canonical_path_skips_only_substitutions_that_find_nothing(url: str) -> None:
    parts = url_parts(url)
    path = parts[2] if parts is not None else url
    assert canonical_path(path) == _path_by_regexes(path)
