"""The text of an item's HTML: read from lxml's parser events, as bs4's get_text gave it.

bs4 stays the reference here: on generated markup (tags that hide their text, comments,
doctypes, stray brackets, entities, text after ``</html>``) both must give the same text.
``make fuzz`` runs the comparison with a long budget (MONITOR_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
import warnings

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.sources.normalize import clean_text
from monitor.sources.text import TEXT_LIMIT, html_to_text

EXAMPLES = int(os.environ.get("MONITOR_FUZZ_EXAMPLES", "300"))


def text_by_bs4(markup: str, limit: int = TEXT_LIMIT) -> str:
    """The reading html_to_text keeps: bs4 on lxml, scripts, styles and fallbacks removed."""
    if "<" not in markup and "&" not in markup:
        return clean_text(markup, limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        soup = BeautifulSoup(markup[: limit * 4], "lxml")
    for node in soup(["script", "style", "noscript"]):
        node.decompose()
    return clean_text(soup.get_text(" "), limit)


TAGS = [
    "p", "b", "a", "div", "span", "br", "img", "hr", "li", "ul", "table", "tr", "td", "h1",
    "html", "head", "body", "title", "pre", "textarea", "xmp", "plaintext", "iframe", "select",
    "option", "svg", "math", "object", "frameset", "noframes", "noembed", "form", "code",
    "script", "style", "noscript", "template", "ruby", "rt", "rp",
]  # fmt: skip
SNIPPETS = [
    "<!-- note -->", "<!---->", "<?php echo 1 ?>", "<![CDATA[cd]]>", "<!DOCTYPE html>",
    "<?xml version='1.0' encoding='utf-8'?>", "<!--[if IE]>", "<![endif]-->",
    "&amp;", "&lt;", "&gt;", "&nbsp;", "&#39;", "&#x2014;", "&#0;", "&copy", "&bogus;",
    "&", "<", ">", "<>", "</>", " ", "\n", "R&D", "AT&T", "中文", "café", "\u200b",
]  # fmt: skip
piece = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8),
    st.sampled_from(TAGS).map(lambda tag: f"<{tag}>"),
    st.sampled_from(TAGS).map(lambda tag: f"</{tag}>"),
    st.sampled_from(TAGS).map(lambda tag: f"<{tag}/>"),
    st.sampled_from(TAGS).map(lambda tag: f"<{tag} class='x' title=\"a&amp;b\">"),
    st.sampled_from(SNIPPETS),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(piece, max_size=30).map("".join))
def test_text_is_what_bs4_gave(markup: str) -> None:
    assert html_to_text(markup) == text_by_bs4(markup)


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>Apple shuts <b>Shanghai</b> R&amp;D centre</p>", "Apple shuts Shanghai R&D centre"),
        # text on either side of a tag, comment or doctype is two strings: never one word
        ("<p>closes<br>lab</p>", "closes lab"),
        ("lab<!-- ad -->closure", "lab closure"),
        ("lab<script>track()</script>closure", "lab closure"),
        ("a<!DOCTYPE html>b", "a b"),
        # what a reader does not see
        ("<style>p{}</style><noscript>enable js</noscript><template>t</template>seen", "seen"),
        ("<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>字", "漢 字"),
        # text that follows the end of the document still counts
        ("<html><body><p>one</p></body></html>trailer", "one trailer"),
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
        ("R&D", "R&D"),
        ("&lt;b&gt; stays text", "<b> stays text"),
        ("<!-- only a comment -->", ""),
    ],
)
def test_known_markup(markup: str, text: str) -> None:
    assert html_to_text(markup) == text
    assert text_by_bs4(markup) == text


def test_markup_read_one_after_another_does_not_mix() -> None:
    # the parser is reused: what one document left open must not leak into the next
    assert html_to_text("<script>never closed") == ""
    assert html_to_text("<p>next</p>") == "next"
    assert html_to_text("<template><p>open") == ""
    assert html_to_text("<b>after</b>") == "after"


def test_a_lone_surrogate_is_replaced_not_fatal() -> None:
    # JSON Feed can escape half of a surrogate pair; the parser cannot take it
    assert html_to_text("<p>\ud800x</p>") == "?x"
    assert html_to_text("<p>fine</p>") == "fine"


def test_the_limit_holds() -> None:
    text = html_to_text("<p>" + "word " * 1000 + "</p>", limit=50)
    assert len(text) == 50
    assert text.endswith("…")
