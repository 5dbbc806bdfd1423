"""Message templates that users override: Jinja2 in its immutable sandbox, checked when loaded.

A folder named by ``templates:`` in monitor.yaml may hold any of:

    email.subject   the subject line (made one line and cut to length whatever the template does)
    email.txt       the plain-text part of an email
    email.html      the HTML part (autoescaped: scraped text cannot become markup)
    slack.md        the text of the Slack message's main section (values arrive escaped for Slack)

Each sees the alert as ``title``, ``url``, ``link`` (an http(s) URL or empty), ``source``,
``published``, ``summary``, ``rule``, ``severity``, ``score``, ``why`` and ``matched`` (a list of
``term``, ``field``, ``text``). A template that does not compile, or fails on a sample alert (an
unknown variable), is a configuration error naming the file and line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import ConfigError, Problem
from monitor.model import Alert, Evidence
from monitor.notify.render import (
    EMAIL_SUMMARY_MAX,
    clean_line,
    cut,
    published_text,
    safe_link,
    slack_escape,
    why_line,
)

if TYPE_CHECKING:
    from jinja2 import Template

TEMPLATE_NAMES = ("email.subject", "email.txt", "email.html", "slack.md")
MAX_TEMPLATE_BYTES = 64 * 1024

_SAMPLE = Alert(
    key="0" * 32,
    rule="sample-rule",
    title="Sample headline",
    url="https://news.example.org/sample",
    source="sample-source",
    published=datetime(2024, 1, 1, tzinfo=UTC),
    summary="Sample summary.",
    matched=(Evidence(term="sample", field="title", start=0, end=6, text="Sample"),),
    score=1.0,
)


def _values(alert: Alert, escape: Callable[[str], str]) -> dict[str, Any]:
    summary = cut("\n".join(clean_line(p) for p in alert.summary.splitlines()), EMAIL_SUMMARY_MAX)
    return {
        "title": escape(clean_line(alert.title)),
        "url": escape(clean_line(alert.url)),
        "link": escape(safe_link(alert.url) or ""),
        "source": escape(clean_line(alert.source)),
        "published": published_text(alert),
        "summary": escape(summary.strip()),
        "rule": escape(clean_line(alert.rule)),
        "severity": alert.severity,
        "score": alert.score,
        "why": escape(why_line(alert)),
        "matched": [
            {"term": escape(e.term), "field": e.field, "text": escape(clean_line(e.text))}
            for e in alert.matched
        ],
    }


@dataclass(frozen=True)
class Templates:
    """The user's templates by name; a missing one means the built-in rendering."""

    compiled: dict[str, Template]

    def render(self, name: str, alert: Alert) -> str | None:
        template = self.compiled.get(name)
        if template is None:
            return None
        escape = slack_escape if name == "slack.md" else _plain
        return template.render(**_values(alert, escape))


def _plain(text: str) -> str:
    return text


NO_TEMPLATES = Templates({})


def load_templates(folder: Path) -> Templates:
    """Compile and try every template in ``folder``; all problems are raised together."""
    # jinja2 is loaded by configs that have templates, not at every start (15 ms)
    from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    if not folder.is_dir():
        raise ConfigError.single(str(folder), 1, 1, "templates folder not found")
    problems: list[Problem] = []
    compiled: dict[str, Template] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.name not in TEMPLATE_NAMES:
            known = ", ".join(TEMPLATE_NAMES)
            problems.append(Problem(str(path), 1, 1, f"unknown template (known: {known})"))
            continue
        if path.stat().st_size > MAX_TEMPLATE_BYTES:
            problems.append(Problem(str(path), 1, 1, "a template is at most 64 KiB"))
            continue
        environment = ImmutableSandboxedEnvironment(
            autoescape=path.name.endswith(".html"), undefined=StrictUndefined
        )
        try:
            template = environment.from_string(path.read_text(encoding="utf-8"))
            Templates({path.name: template}).render(path.name, _SAMPLE)
        except TemplateSyntaxError as exc:
            problems.append(Problem(str(path), exc.lineno or 1, 1, exc.message or str(exc)))
            continue
        except (TemplateError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 1, 1, f"cannot render a sample alert: {exc}"))
            continue
        compiled[path.name] = template
    if problems:
        raise ConfigError(problems)
    return Templates(compiled)
