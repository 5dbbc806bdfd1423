"""A digest of several alerts, rendered for each channel from the same values as a single alert.

The same escaping rules hold as in ``render``: every scraped string is made safe for its medium
and cut to the receiver's limits.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import TYPE_CHECKING, Any

from monitor.model import Digest
from monitor.notify.render import (
    EMAIL_SUMMARY_MAX,
    SLACK_BLOCKS_MAX,
    SLACK_SECTION_MAX,
    SLACK_TEXT_MAX,
    SOURCE_MAX,
    SUBJECT_MAX,
    clean_line,
    cut,
    email_text,
    published_text,
    safe_link,
    slack_escape,
    slack_fit,
    slack_title,
    why_line,
)

if TYPE_CHECKING:
    from jinja2 import Template

#: a digest's summaries are short: the reader scans many alerts
DIGEST_SUMMARY_MAX = 600


def rules_counted(digest: Digest) -> str:
    """``rule-a (2), rule-b``."""
    counts = Counter(clean_line(a.rule) for a in digest.alerts)
    return ", ".join(f"{rule} ({n})" if n > 1 else rule for rule, n in counts.items())


def digest_subject(digest: Digest) -> str:
    return cut(f"[monitor] {len(digest.alerts)} alerts: {rules_counted(digest)}", SUBJECT_MAX)


def digest_text(digest: Digest) -> str:
    head = f"{len(digest.alerts)} alerts: {rules_counted(digest)}\n\n"
    return head + "\n".join(email_text(alert) for alert in digest.alerts)


_HTML_SOURCE = """\
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ heading }}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<h2>{{ heading }}</h2>
{%- for alert in alerts %}
<h3 style="margin-bottom: 0.2em">
{%- if alert.link %}<a href="{{ alert.link }}">{{ alert.title }}</a>
{%- else %}{{ alert.title }}{% endif -%}
</h3>
{%- if alert.meta %}
<p style="color: #555; margin-top: 0">{{ alert.meta }}</p>
{%- endif %}
{%- if alert.summary %}
<p style="white-space: pre-line">{{ alert.summary }}</p>
{%- endif %}
<p style="color: #888; font-size: small">rule {{ alert.rule }}
{%- if alert.why %} · {{ alert.why }}{% endif %}</p>
{%- endfor %}
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


def digest_html(digest: Digest) -> str:
    alerts = [
        {
            "title": clean_line(a.title) or "(no title)",
            "link": safe_link(a.url) or "",
            "meta": " · ".join(p for p in (clean_line(a.source), published_text(a)) if p),
            "summary": cut(clean_line(a.summary), min(DIGEST_SUMMARY_MAX, EMAIL_SUMMARY_MAX)),
            "why": why_line(a),
            "rule": clean_line(a.rule),
        }
        for a in digest.alerts
    ]
    heading = f"{len(digest.alerts)} alerts: {rules_counted(digest)}"
    return _html().render(heading=heading, alerts=alerts)


def slack_digest(digest: Digest) -> dict[str, Any]:
    """One section per alert; past Slack's block limit, a last line says how many are left out."""
    room = SLACK_BLOCKS_MAX - 1
    blocks: list[dict[str, Any]] = []
    for alert in digest.alerts[:room]:
        head, _ = slack_title(alert)
        meta = " · ".join(
            p
            for p in (
                slack_fit(clean_line(alert.source), SOURCE_MAX),
                published_text(alert),
                f"rule {slack_escape(clean_line(alert.rule))}",
                slack_escape(why_line(alert)),
            )
            if p
        )
        text = f"{head}\n{meta}"
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SLACK_SECTION_MAX)}}
        )
    left = len(digest.alerts) - room
    if left > 0:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {left} more alerts"}]}
        )
    fallback = f"{len(digest.alerts)} alerts: {rules_counted(digest)}"
    return {"text": slack_fit(fallback, SLACK_TEXT_MAX), "blocks": blocks}
