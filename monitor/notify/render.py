"""What each channel shows for an alert, as pure functions of the ``Alert``: no I/O, no clock.

Everything in an alert except the rule name was scraped from the web, so it is hostile text: it is
escaped for the medium it lands in (Slack mrkdwn, HTML, a mail header, a terminal), links are made
only from http(s) URLs, and every piece is cut to the receiver's limits here rather than rejected
by the receiver later.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from monitor.model import Alert

if TYPE_CHECKING:
    from jinja2 import Template

ELLIPSIS = "…"

#: Slack's documented limits: a section's text, blocks per message, the top-level ``text``.
SLACK_SECTION_MAX = 3000
SLACK_BLOCKS_MAX = 50
SLACK_TEXT_MAX = 40000
#: a headline is a pointer to the article, not the article; keeps room for the summary
TITLE_MAX = 300
SOURCE_MAX = 100
#: longer URLs are shown as text: a link that eats the section would leave no room for the rest
LINK_URL_MAX = 2000
SUBJECT_MAX = 200
#: a mail is not the place for a whole article; receivers' spam filters dislike huge alerts
EMAIL_SUMMARY_MAX = 20000
#: distinct (term, field) pairs listed in the "why" line before "and N more"
WHY_MAX_PAIRS = 10
WHY_TERM_MAX = 60

_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
_SURROGATE = re.compile("[\ud800-\udfff]")


def slack_escape(text: str) -> str:
    """Escape the three characters Slack treats as markup, so ``<!channel>`` stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_link(url: str) -> str | None:
    """The URL if it may become a clickable link (http or https with a host), else ``None``.

    Whitespace and control characters are refused too: Slack ends link markup at them, and a
    mail client may show a different link than the one followed.
    """
    candidate = url.strip()
    if not candidate or any(ch.isspace() or _is_control(ch) for ch in candidate):
        return None
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return candidate


def why_line(alert: Alert) -> str:
    """``matched: "closes" in title, "Shanghai" in summary``; empty when there is no evidence.

    A scored rule adds its score: ``(score 6)``.
    """
    pairs = list(dict.fromkeys((e.term, e.field) for e in alert.matched))
    if not pairs:
        return ""
    shown = [f'"{cut(_line(term), WHY_TERM_MAX)}" in {field}' for term, field in pairs]
    if len(shown) > WHY_MAX_PAIRS:
        shown = [*shown[:WHY_MAX_PAIRS], f"and {len(pairs) - WHY_MAX_PAIRS} more"]
    score = f" (score {alert.score:g})" if alert.score is not None else ""
    return "matched: " + ", ".join(shown) + score


def plain_text(alert: Alert) -> str:
    """The console block. Control characters become spaces so a title cannot drive the terminal."""
    lines = [
        f"[{_line(alert.rule)}] {cut(_line(alert.title) or '(no title)', TITLE_MAX)}",
        f"  url:       {cut(_line(alert.url), LINK_URL_MAX)}",
        f"  source:    {cut(_line(alert.source), SOURCE_MAX)}",
        f"  published: {published_text(alert) or 'unknown'}",
    ]
    if why := why_line(alert):
        lines.append(f"  {why}")
    return "\n".join(lines)


def slack_title(alert: Alert) -> tuple[str, bool]:
    """The bold headline in mrkdwn, linked to the story when its URL can be a link; and whether
    it is linked."""
    title = slack_fit(_line(alert.title) or "(no title)", TITLE_MAX)
    link = safe_link(alert.url)
    if link is None or len(link) > LINK_URL_MAX:
        return f"*{title}*", False
    # Inside link markup "|" would end the URL early; percent-encoding it is the same URL.
    target = slack_escape(link).replace("|", "%7C")
    return f"*<{target}|{title}>*", True


def slack_message(alert: Alert) -> dict[str, Any]:
    """The incoming-webhook body. ``link_names`` is never set, so ``@everyone`` stays text."""
    title = _line(alert.title) or "(no title)"
    head, linked = slack_title(alert)
    if not linked and alert.url:
        head += "\n" + slack_fit(_line(alert.url), TITLE_MAX)
    meta = " · ".join(
        part for part in (slack_fit(_line(alert.source), SOURCE_MAX), published_text(alert)) if part
    )
    if meta:
        head += "\n" + meta
    section = head
    summary = _clean(alert.summary).strip()
    room = SLACK_SECTION_MAX - len(head) - 1
    if summary and room > len(ELLIPSIS):
        section += "\n" + slack_fit(summary, room)

    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": section}},
    ]
    context = " · ".join(part for part in (f"rule {_line(alert.rule)}", why_line(alert)) if part)
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": slack_fit(context, SLACK_SECTION_MAX)}],
        }
    )
    fallback = f"{_line(alert.rule)}: {cut(title, TITLE_MAX)}"
    return {"text": slack_fit(fallback, SLACK_TEXT_MAX), "blocks": blocks[:SLACK_BLOCKS_MAX]}


def email_subject(alert: Alert) -> str:
    """One line: every control character is a space, so a title cannot add a header."""
    return cut(_line(f"[monitor] {alert.rule}: {alert.title}"), SUBJECT_MAX)


def email_text(alert: Alert) -> str:
    lines = [_line(alert.title) or "(no title)", _line(alert.url), ""]
    meta = " · ".join(p for p in (_line(alert.source), published_text(alert)) if p)
    if meta:
        lines += [meta, ""]
    summary = _clean(alert.summary).strip()
    if summary:
        lines += [cut(summary, EMAIL_SUMMARY_MAX), ""]
    if why := why_line(alert):
        lines += [why, ""]
    lines += ["-- ", f"rule: {_line(alert.rule)}"]
    return "\n".join(lines) + "\n"


_HTML_SOURCE = """\
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ title }}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<h2 style="margin-bottom: 0.2em">
{%- if link %}<a href="{{ link }}">{{ title }}</a>{% else %}{{ title }}{% endif -%}
</h2>
{%- if not link and url %}
<p style="margin-top: 0">{{ url }}</p>
{%- endif %}
{%- if meta %}
<p style="color: #555">{{ meta }}</p>
{%- endif %}
{%- if summary %}
<p style="white-space: pre-line">{{ summary }}</p>
{%- endif %}
{%- if why %}
<p style="color: #555; font-size: small">{{ why }}</p>
{%- endif %}
<p style="color: #888; font-size: small">rule {{ rule }}</p>
</body>
</html>
"""


@cache
def _html() -> Template:
    # compiled on first use, with jinja2 loaded then: most runs send no HTML email
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    return environment.from_string(_HTML_SOURCE)


def email_html(alert: Alert) -> str:
    """The HTML part; autoescape does the escaping, so no value here is ever marked safe."""
    meta = " · ".join(p for p in (_line(alert.source), published_text(alert)) if p)
    return _html().render(
        title=_line(alert.title) or "(no title)",
        link=safe_link(alert.url) or "",
        url=_line(alert.url),
        meta=meta,
        summary=cut(_clean(alert.summary).strip(), EMAIL_SUMMARY_MAX),
        why=why_line(alert),
        rule=_line(alert.rule),
    )


def published_text(alert: Alert) -> str:
    """``2024-05-01 12:00 UTC``; a naive datetime is UTC by the model's contract."""
    if alert.published is None:
        return ""
    moment = alert.published
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def one_line(text: str) -> str:
    """Control characters and line/paragraph separators become spaces; runs of space collapse."""
    return " ".join("".join(" " if _is_control(ch) else ch for ch in text).split())


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, the last one an ellipsis when anything was dropped."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ELLIPSIS), 0)].rstrip() + ELLIPSIS


def slack_fit(text: str, limit: int) -> str:
    """Escape for Slack and cut to ``limit`` characters without splitting an ``&amp;`` entity."""
    escaped = slack_escape(text)
    if len(escaped) <= limit:
        return escaped
    pieces: list[str] = []
    used = 0
    budget = limit - len(ELLIPSIS)
    for ch in text:
        piece = _SLACK_ESCAPES.get(ch, ch)
        if used + len(piece) > budget:
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces) + ELLIPSIS


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in _LINE_BREAKING


def _line(text: str) -> str:
    return one_line(_clean(text))


#: the cleaning every rendered line of scraped text gets, for other renderers of this package
clean_line = _line


def _clean(text: str) -> str:
    """Surrogate code points (undecodable bytes smuggled into a str) become U+FFFD: UTF-8 cannot
    carry them, and they would make encoding fail at send time instead of here."""
    return _SURROGATE.sub("\ufffd", text)
