"""User templates: checked when loaded, sandboxed, and fed values escaped for their medium."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.model import Alert
from monitor.notify.templates import load_templates

HOSTILE = Alert(
    key="k" * 32,
    rule="r",
    title="<!channel> <script>x</script> & co",
    url="https://news.example.org/a?b=1&c=2",
    source="wire",
    published=None,
    summary="line one\nline two",
)


def folder(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / name.replace("_", ".")).write_text(text)
    return tmp_path


def test_values_are_escaped_for_html_and_slack_and_plain_for_text(tmp_path: Path) -> None:
    templates = load_templates(
        folder(
            tmp_path,
            email_html="<b>{{ title }}</b> <a href='{{ link }}'>{{ source }}</a>",
            slack_md="*{{ title }}* {{ rule }}",
            email_txt="{{ title }}\n{{ summary }}",
        )
    )
    html = templates.render("email.html", HOSTILE)
    assert html == (
        "<b>&lt;!channel&gt; &lt;script&gt;x&lt;/script&gt; &amp; co</b> "
        "<a href='https://news.example.org/a?b=1&amp;c=2'>wire</a>"
    )
    assert templates.render("slack.md", HOSTILE) == (
        "*&lt;!channel&gt; &lt;script&gt;x&lt;/script&gt; &amp; co* r"
    )
    assert templates.render("email.txt", HOSTILE) == (
        "<!channel> <script>x</script> & co\nline one\nline two"
    )
    assert templates.render("email.subject", HOSTILE) is None


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"email_html": "ok\n{% if %}"}, "email.html:2:1: Expected an expression"),
        ({"slack_md": "{{ headline }}"}, "slack.md:1:1: cannot render a sample alert: 'headline'"),
        ({"teams_md": "x"}, "teams.md:1:1: unknown template (known: email.subject"),
        (
            {"email_txt": "{{ ''.__class__.__mro__ }}"},
            "email.txt:1:1: cannot render a sample alert: access to attribute '__class__'",
        ),
    ],
)
def test_broken_templates_are_configuration_errors_naming_the_file(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        load_templates(folder(tmp_path, **files))
    (problem,) = exc.value.problems
    assert str(problem).startswith(f"{tmp_path}/{expected}")
