"""The renderer turns hostile scraped text into safe Slack, email and console output."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from html.parser import HTMLParser
from typing import Any

import pytest

from monitor.model import Alert, Evidence
from monitor.notify import render
from monitor.notify.email import build_message

D1_TITLE = (
    "<!channel> <script>alert(1)</script> & <https://evil.example|Click here> *bold* @everyone"
)
D1_ESCAPED = (
    "&lt;!channel&gt; &lt;script&gt;alert(1)&lt;/script&gt; &amp; "
    "&lt;https://evil.example|Click here&gt;"
)


def make_alert(**changes: Any) -> Alert:
    alert = Alert(
        key="0123456789abcdef0123456789abcdef",
        rule="port-closures",
        title="Port of Shanghai closes after typhoon",
        url="https://news.example/port-closure?id=7&lang=en",
        source="reuters",
        published=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
        summary="Shanghai port operations stopped on Wednesday.",
        matched=(
            Evidence(term="closes", field="title", start=27, end=33, text="closes"),
            Evidence(term="Shanghai", field="summary", start=0, end=8, text="Shanghai"),
        ),
    )
    return replace(alert, **changes)


def section_text(message: dict[str, object]) -> str:
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    return str(blocks[0]["text"]["text"])


def context_text(message: dict[str, object]) -> str:
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    return str(blocks[1]["elements"][0]["text"])


class _Tags(HTMLParser):
    """Collects the start tags and href values an HTML mail client would actually see."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [value or "" for name, value in attrs if name == "href"]


def parse_html(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


# --- escaping helpers ---------------------------------------------------------------------------


def test_slack_escape_replaces_exactly_the_three_control_characters() -> None:
    assert render.slack_escape("a & b < c > d * _ ~ `") == "a &amp; b &lt; c &gt; d * _ ~ `"


def test_slack_escape_escapes_ampersand_first_so_entities_are_not_double_decoded() -> None:
    assert render.slack_escape("&lt;") == "&amp;lt;"


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example/a",
        "http://news.example/a?b=c&d=e",
        "HTTPS://NEWS.EXAMPLE/",
        "https://[::1]:8443/x",
    ],
)
def test_safe_link_keeps_http_and_https_urls(url: str) -> None:
    assert render.safe_link(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        " javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
        "ftp://files.example/x",
        "//news.example/protocol-relative",
        "/relative/path",
        "https:///no-host",
        "https://news.example/a b",
        "https://news.example/a\nb",
        "http://[::1",
        "",
    ],
)
def test_safe_link_refuses_everything_else(url: str) -> None:
    assert render.safe_link(url) is None


def test_cut_keeps_short_text_and_marks_cut_text_with_an_ellipsis() -> None:
    assert render.cut("short", 10) == "short"
    assert render.cut("a" * 20, 10) == "a" * 9 + "…"
    assert len(render.cut("a" * 20, 10)) == 10


def test_slack_fit_never_splits_an_escape_entity() -> None:
    fitted = render.slack_fit("&" * 100, 20)
    assert len(fitted) <= 20
    assert fitted.endswith("…")
    assert fitted[:-1] == "&amp;" * 3


def test_one_line_turns_every_control_and_line_separator_into_a_space() -> None:
    assert render.one_line("a\r\nb\tc\x00d\x1b[2Je\u2028f\u2029g\x85h") == "a b c d [2Je f g h"


# --- Slack --------------------------------------------------------------------------------------


def test_slack_message_escapes_the_d1_title_everywhere_it_appears() -> None:
    message = render.slack_message(make_alert(title=D1_TITLE))
    assert D1_ESCAPED in message["text"]
    assert D1_ESCAPED in section_text(message)
    wire = json.dumps(message, ensure_ascii=False)
    for raw in ("<!channel>", "<script>", "<https://evil.example|"):
        assert raw not in wire


def test_slack_message_never_asks_slack_to_resolve_mentions() -> None:
    message = render.slack_message(make_alert(title="@everyone @here <@U123> <!here>"))
    assert "link_names" not in message
    assert "&lt;@U123&gt;" in section_text(message)
    assert "&lt;!here&gt;" in section_text(message)


def test_slack_headline_is_a_bold_link_to_the_article() -> None:
    message = render.slack_message(make_alert())
    assert section_text(message).startswith(
        "*<https://news.example/port-closure?id=7&amp;lang=en"
        "|Port of Shanghai closes after typhoon>*\n"
    )


def test_slack_link_cannot_be_ended_early_by_a_pipe_or_angle_bracket_in_the_url() -> None:
    message = render.slack_message(make_alert(url="https://news.example/a|<!channel>"))
    assert "*<https://news.example/a%7C&lt;!channel&gt;|" in section_text(message)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>"])
def test_slack_shows_a_non_http_url_as_plain_text_without_link_markup(url: str) -> None:
    section = section_text(render.slack_message(make_alert(url=url)))
    assert "<javascript:" not in section
    assert "<data:" not in section
    assert render.slack_escape(url) in section
    assert section.startswith("*Port of Shanghai closes after typhoon*\n")


def test_slack_section_shows_source_published_and_summary() -> None:
    section = section_text(render.slack_message(make_alert()))
    assert "reuters · 2024-05-01 12:30 UTC" in section
    assert "Shanghai port operations stopped on Wednesday." in section


def test_slack_context_line_says_why_the_rule_matched() -> None:
    context = context_text(render.slack_message(make_alert()))
    assert 'matched: "closes" in title, "Shanghai" in summary' in context
    assert "port-closures" in context


def test_slack_message_cuts_a_huge_summary_to_the_section_limit() -> None:
    summary = "Shanghai & <b>port</b> " * 10_000  # ~230 KB, heavy on characters that expand
    message = render.slack_message(make_alert(summary=summary))
    section = section_text(message)
    assert len(section) <= render.SLACK_SECTION_MAX
    assert section.endswith("…")
    assert "<b>" not in section
    assert len(message["text"]) <= render.SLACK_TEXT_MAX
    assert len(message["blocks"]) <= render.SLACK_BLOCKS_MAX
    assert len(context_text(message)) <= render.SLACK_SECTION_MAX


def test_slack_message_stays_within_limits_when_every_field_is_huge() -> None:
    huge = "<&>" * 70_000
    alert = make_alert(
        title=huge,
        source=huge,
        summary=huge,
        url="https://news.example/" + "a" * 5000,
        matched=tuple(
            Evidence(term=huge[:500] + str(i), field="summary", start=0, end=1, text="x")
            for i in range(100)
        ),
    )
    message = render.slack_message(alert)
    assert len(section_text(message)) <= render.SLACK_SECTION_MAX
    assert len(context_text(message)) <= render.SLACK_SECTION_MAX
    assert len(message["text"]) <= render.SLACK_TEXT_MAX
    assert len(message["blocks"]) <= render.SLACK_BLOCKS_MAX
    assert "and 90 more" in context_text(message) or context_text(message).endswith("…")


def test_slack_message_keeps_non_ascii_text() -> None:
    alert = make_alert(title="Порт Шанхая закрыт — 上海港关闭 🚢", summary="Zürich, São Paulo")
    message = render.slack_message(alert)
    assert "Порт Шанхая закрыт — 上海港关闭 🚢" in section_text(message)
    assert "Zürich, São Paulo" in section_text(message)


def test_slack_message_is_json_serialisable_even_with_undecodable_bytes_in_a_title() -> None:
    message = render.slack_message(make_alert(title="bad \udcff byte"))
    encoded = json.dumps(message, ensure_ascii=False).encode("utf-8")
    assert "bad \ufffd byte" in encoded.decode("utf-8")


# --- why line -----------------------------------------------------------------------------------


def test_why_line_names_each_term_and_the_field_it_was_found_in() -> None:
    assert render.why_line(make_alert()) == 'matched: "closes" in title, "Shanghai" in summary'


def test_why_line_gives_the_score_of_a_scored_rule() -> None:
    scored = dataclasses.replace(make_alert(), score=6.5)
    assert render.why_line(scored).endswith('"Shanghai" in summary (score 6.5)')


def test_why_line_lists_a_term_found_twice_in_one_field_once() -> None:
    evidence = Evidence(term="port", field="summary", start=0, end=4, text="port")
    alert = make_alert(matched=(evidence, replace(evidence, start=10, end=14)))
    assert render.why_line(alert) == 'matched: "port" in summary'


def test_why_line_is_empty_without_evidence() -> None:
    assert render.why_line(make_alert(matched=())) == ""


def test_why_line_is_bounded_for_many_terms() -> None:
    matched = tuple(
        Evidence(term=f"term{i}", field="title", start=0, end=1, text="t") for i in range(25)
    )
    line = render.why_line(make_alert(matched=matched))
    assert line.count(" in title") == render.WHY_MAX_PAIRS
    assert line.endswith("and 15 more")


# --- email --------------------------------------------------------------------------------------


def test_email_subject_has_the_rule_and_title() -> None:
    assert (
        render.email_subject(make_alert())
        == "[monitor] port-closures: Port of Shanghai closes after typhoon"
    )


@pytest.mark.parametrize(
    "title",
    [
        "Breaking\r\nBcc: victim@example.com",
        "Breaking\nBcc: victim@example.com",
        "Breaking\rBcc: victim@example.com",
        "Breaking\x00\x0b\x0c\x1b\x85\u2028\u2029Bcc: victim@example.com",
    ],
)
def test_email_subject_is_always_one_line(title: str) -> None:
    subject = render.email_subject(make_alert(title=title))
    assert subject == "[monitor] port-closures: Breaking Bcc: victim@example.com"
    assert subject.isprintable()


def test_email_subject_is_cut_to_about_two_hundred_characters() -> None:
    subject = render.email_subject(make_alert(title="x" * 10_000))
    assert len(subject) <= render.SUBJECT_MAX
    assert subject.endswith("…")


def test_email_subject_that_looks_like_an_encoded_word_reaches_the_reader_literally() -> None:
    title = "=?UTF-8?Q?Breaking=0ABcc:_x@y?="
    message = build_message(
        make_alert(title=title),
        channel="mail",
        sender="monitor@example.com",
        to=["ops@example.com"],
        date="Wed, 01 May 2024 12:30:00 GMT",
    )
    wire = message.as_bytes()
    parsed = message_from_bytes(wire, policy=policy.default)
    assert str(parsed["Subject"]) == f"[monitor] port-closures: {title}"
    assert "Bcc" not in parsed
    assert b"\nBcc:" not in wire


def test_email_html_escapes_scraped_markup() -> None:
    html = render.email_html(make_alert(title=D1_TITLE, summary="<img src=x onerror=alert(1)>"))
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert "<img" not in html
    tags = parse_html(html).tags
    assert "script" not in tags
    assert "img" not in tags


def test_email_html_links_the_headline_to_an_http_url() -> None:
    html = render.email_html(make_alert())
    assert parse_html(html).hrefs == ["https://news.example/port-closure?id=7&lang=en"]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        'javascript:alert("x")//https://news.example',
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    ],
)
def test_email_html_shows_a_non_http_url_as_text_not_a_link(url: str) -> None:
    html = render.email_html(make_alert(url=url))
    assert "<a href" not in html
    assert parse_html(html).hrefs == []


def test_email_html_cannot_break_out_of_the_href_attribute() -> None:
    html = render.email_html(make_alert(url='https://news.example/"onmouseover="alert(1)'))
    parser = parse_html(html)
    assert parser.hrefs == ['https://news.example/"onmouseover="alert(1)']
    assert 'onmouseover="alert' not in html


def test_email_html_uses_a_sandboxed_autoescaping_template() -> None:
    html = render.email_html(make_alert(title="{{ 7 * 7 }} {% raw %}"))
    assert "{{ 7 * 7 }} {% raw %}" in html
    assert "49" not in html


def test_email_text_shows_the_title_literally() -> None:
    text = render.email_text(make_alert(title=D1_TITLE))
    assert text.splitlines()[0] == D1_TITLE
    assert "&lt;" not in text


def test_email_text_has_url_source_summary_and_why() -> None:
    text = render.email_text(make_alert())
    assert "https://news.example/port-closure?id=7&lang=en" in text
    assert "reuters · 2024-05-01 12:30 UTC" in text
    assert "Shanghai port operations stopped on Wednesday." in text
    assert 'matched: "closes" in title, "Shanghai" in summary' in text


def test_email_parts_keep_non_ascii_text() -> None:
    alert = make_alert(title="上海港关闭 — Zürich 🚢")
    assert "上海港关闭 — Zürich 🚢" in render.email_text(alert)
    assert "上海港关闭 — Zürich 🚢" in render.email_html(alert)
    assert "上海港关闭 — Zürich 🚢" in render.email_subject(alert)


def test_email_parts_bound_a_huge_summary() -> None:
    alert = make_alert(summary="word " * 40_000)
    assert len(render.email_text(alert)) < render.EMAIL_SUMMARY_MAX + 1000
    assert "…" in render.email_text(alert)
    assert len(render.email_html(alert)) < render.EMAIL_SUMMARY_MAX + 2000


# --- console ------------------------------------------------------------------------------------


def test_plain_text_shows_rule_headline_url_source_published_and_why() -> None:
    text = render.plain_text(make_alert())
    assert text.splitlines()[0] == "[port-closures] Port of Shanghai closes after typhoon"
    assert "https://news.example/port-closure?id=7&lang=en" in text
    assert "reuters" in text
    assert "2024-05-01 12:30 UTC" in text
    assert 'matched: "closes" in title, "Shanghai" in summary' in text


def test_plain_text_cannot_send_terminal_escape_sequences() -> None:
    text = render.plain_text(make_alert(title="\x1b[2J\x1b]0;pwned\x07 title", source="a\rb"))
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\r" not in text


def test_published_is_shown_in_utc_and_naive_times_are_taken_as_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert (
        render.published_text(make_alert(published=datetime(2024, 5, 1, 14, 30, tzinfo=plus_two)))
        == "2024-05-01 12:30 UTC"
    )
    assert (
        render.published_text(make_alert(published=datetime(2024, 5, 1, 12, 30)))
        == "2024-05-01 12:30 UTC"
    )
    assert render.published_text(make_alert(published=None)) == ""
    assert "published: unknown" in render.plain_text(make_alert(published=None))


def test_rendering_copes_with_an_alert_that_has_only_a_rule() -> None:
    alert = make_alert(title="", url="", source="", summary="", published=None, matched=())
    assert section_text(render.slack_message(alert)) == "*(no title)*"
    assert render.email_text(alert).startswith("(no title)\n")
    assert "(no title)" in render.email_html(alert)
    assert render.email_subject(alert) == "[monitor] port-closures:"


def test_email_message_is_multipart_alternative_with_a_deterministic_message_id() -> None:
    message = build_message(
        make_alert(),
        channel="ops-mail",
        sender="Monitor <m@example.com>",
        to=["a@example.com"],
        date="Wed, 01 May 2024 12:30:00 GMT",
    )
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["Message-ID"] == "<0123456789abcdef0123456789abcdef.ops-mail@news-monitor>"
    assert parsed["Auto-Submitted"] == "auto-generated"


HOSTILE_TITLE = "<!channel> <@U123> <http://evil|click> <script>x</script> & co"


def test_digests_escape_every_alert_for_slack_and_html() -> None:
    from monitor.model import Digest
    from monitor.notify.digest import digest_html, digest_subject, slack_digest

    alerts = tuple(
        make_alert(key=f"{n:032x}", title=HOSTILE_TITLE, rule="r\r\nBcc: x") for n in range(3)
    )
    digest = Digest(alerts=alerts)
    message = slack_digest(digest)
    flat = json.dumps(message)
    for markup in ("<!channel>", "<@U123>", "<http://evil|click>", "<script>"):
        assert markup not in flat
    assert len(message["blocks"]) == 3
    assert "&lt;!channel&gt;" in message["blocks"][0]["text"]["text"]
    html = digest_html(digest)
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") == 3
    subject = digest_subject(digest)
    assert "\n" not in subject
    assert "\r" not in subject
    assert subject.startswith("[monitor] 3 alerts: r Bcc: x (3)")


def test_a_slack_digest_keeps_to_the_block_limit() -> None:
    from monitor.model import Digest
    from monitor.notify.digest import slack_digest
    from monitor.notify.render import SLACK_BLOCKS_MAX

    digest = Digest(alerts=tuple(make_alert(key=f"{n:032x}") for n in range(80)))
    blocks = slack_digest(digest)["blocks"]
    assert len(blocks) == SLACK_BLOCKS_MAX
    assert blocks[-1]["elements"][0]["text"] == "and 31 more alerts"
    assert Digest(alerts=digest.alerts[::-1]).key == digest.key
