"""Every bad config or rule file gets one precise ``path:line:col: message`` per problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import load_config, load_rules, load_settings
from monitor.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems_of(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    return tmp_path / "rules"


def test_valid_settings_convert_durations_and_keep_defaults(tmp_path: Path) -> None:
    config = write(
        tmp_path / "monitor.yaml",
        "sources:\n  - {name: a, feed: 'https://example.org/f', every: 90s}\n"
        "channels:\n  out: {console: true}\n",
    )
    settings = load_settings(config)
    assert settings.sources[0].every == timedelta(seconds=90)
    assert settings.defaults.every == timedelta(minutes=10)
    assert settings.every(settings.sources[0]) == timedelta(seconds=90)


def test_unknown_key_in_a_source_names_line_column_and_suggests_the_key(tmp_path: Path) -> None:
    config = write(
        tmp_path / "monitor.yaml",
        "sources:\n  - name: a\n    feed: https://example.org/f\n    evry: 5m\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    assert problems_of(exc) == [f"{config}:4:5: unknown field 'evry', did you mean 'every'?"]


def test_several_problems_are_reported_together_in_file_order(tmp_path: Path) -> None:
    config = write(
        tmp_path / "monitor.yaml",
        "sources:\n  - {name: a, feed: 'ftp://example.org/f'}\n"
        "channels:\n  c: {slak: 'https://x.example'}\ndefaults:\n  every: soon\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    assert problems_of(exc) == [
        f"{config}:2:21: sources[0].feed: must be an http:// or https:// URL, got 'ftp://example.org/f'",
        f"{config}:4:6: channels.c: a channel needs exactly one of: slack, email, webhook, console",
        f"{config}:6:10: defaults.every: invalid duration 'soon': expected a duration such as "
        "90s, 10m, 2h or 1d",
    ]


def test_yaml_11_boolean_where_a_string_is_expected_is_rejected_with_a_quote_hint(
    tmp_path: Path,
) -> None:
    config = write(tmp_path / "monitor.yaml", "state: no\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    assert problems_of(exc) == [
        f"{config}:1:8: state: Input should be a valid string (got bool False; quote the value)"
    ]


def test_unset_environment_variable_is_named_and_its_position_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_TEST_HOOK", raising=False)
    config = write(tmp_path / "monitor.yaml", "channels:\n  s: {slack: '${MONITOR_TEST_HOOK}'}\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    assert problems_of(exc) == [f"{config}:2:14: environment variable MONITOR_TEST_HOOK is not set"]


def test_environment_variables_are_interpolated_into_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_TEST_HOOK", "https://hooks.example.org/T1/secret")
    config = write(tmp_path / "monitor.yaml", "channels:\n  s: {slack: '${MONITOR_TEST_HOOK}'}\n")
    channel = load_settings(config).channels["s"]
    assert channel.slack == "https://hooks.example.org/T1/secret"


def test_email_channel_without_smtp_settings_is_an_error(tmp_path: Path) -> None:
    config = write(
        tmp_path / "monitor.yaml",
        "channels:\n  mail: {email: {to: [a@example.org], from: m@example.org}}\n",
    )
    with pytest.raises(ConfigError, match="an email channel needs the smtp: settings"):
        load_settings(config)


def test_duplicate_source_names_are_rejected(tmp_path: Path) -> None:
    config = write(
        tmp_path / "monitor.yaml",
        "sources:\n  - {name: a, feed: 'https://e.org/1'}\n  - {name: a, feed: 'https://e.org/2'}\n",
    )
    with pytest.raises(ConfigError, match="duplicate source name 'a'"):
        load_settings(config)


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")


# --- rule files ---------------------------------------------------------------------------


def test_tab_indentation_in_a_rule_file_names_file_and_line(rules_dir: Path) -> None:
    path = write(rules_dir / "china.yaml", "name: r\nnotify: [c]\nmatch:\n\tany: [x]\n")
    with pytest.raises(ConfigError) as exc:
        load_rules(rules_dir, {"c"})
    assert problems_of(exc) == [f"{path}:4:1: tab characters are not allowed for indentation"]


def test_code_execution_tag_is_refused_and_never_run(rules_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write(
        rules_dir / "evil.yaml",
        f"name: r\nnotify: [c]\nmatch: !!python/object/apply:os.system ['touch {marker}']\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_rules(rules_dir, {"c"})
    assert problems_of(exc)[0].startswith(f"{path}:3:8: the tag ")
    assert not marker.exists()


def test_duplicate_key_names_both_lines(rules_dir: Path) -> None:
    path = write(rules_dir / "r.yaml", "name: r\nnotify: [c]\nmatch: x\nnotify: [c]\n")
    with pytest.raises(ConfigError) as exc:
        load_rules(rules_dir, {"c"})
    assert problems_of(exc) == [f"{path}:4:1: duplicate key 'notify' (first defined on line 2)"]


def test_unknown_channel_and_typo_key_are_both_reported(rules_dir: Path) -> None:
    path = write(
        rules_dir / "r.yaml",
        "rules:\n  - name: a\n    notify: [slak]\n    match: x\n"
        "  - name: b\n    notify: [c]\n    mach: x\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_rules(rules_dir, {"c"})
    assert problems_of(exc) == [
        f"{path}:3:14: unknown channel 'slak'",
        f"{path}:5:5: missing required field 'match'",
        f"{path}:7:5: unknown field 'mach', did you mean 'match'?",
    ]


def test_bad_operator_and_bad_field_in_an_expression(rules_dir: Path) -> None:
    path = write(
        rules_dir / "r.yaml",
        "name: a\nnotify: [c]\nmatch:\n  all: [x]\n  either: [y]\n  in: [body]\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_rules(rules_dir, {"c"})
    assert problems_of(exc) == [
        f"{path}:5:3: unknown operator 'either': use one of all, any, none, at_least, near, "
        "score, list, regex, in",
        f"{path}:6:7: unknown field 'body': use one of title, summary, content, source, url, "
        "author, tags",
    ]


def test_rule_name_that_could_escape_a_folder_is_rejected(rules_dir: Path) -> None:
    write(rules_dir / "r.yaml", "name: ../etc\nnotify: [c]\nmatch: x\n")
    with pytest.raises(ConfigError, match=r"name: String should match pattern"):
        load_rules(rules_dir, {"c"})


def test_duplicate_rule_names_across_files_point_at_both(rules_dir: Path) -> None:
    first = write(rules_dir / "a.yaml", "name: same\nnotify: [c]\nmatch: x\n")
    second = write(rules_dir / "b.yaml", "name: same\nnotify: [c]\nmatch: y\n")
    with pytest.raises(ConfigError) as exc:
        load_rules(rules_dir, {"c"})
    assert problems_of(exc) == [f"{second}:1:1: duplicate rule name 'same' (also at {first}:1)"]


def test_alias_bomb_is_stopped_by_the_node_budget(rules_dir: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    write(rules_dir / "bomb.yaml", "\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="expands to more than 100000 values"):
        load_rules(rules_dir, {"c"})


def test_oversized_rule_file_is_refused_before_parsing(rules_dir: Path) -> None:
    write(rules_dir / "big.yaml", "# " + "x" * (1024 * 1024 + 10) + "\n")
    with pytest.raises(ConfigError, match="over the limit of 1048576 bytes"):
        load_rules(rules_dir, {"c"})


def test_shipped_config_and_rules_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "monitor.yaml")
    assert [r.name for r in config.rules] == ["foreign-tech-china-closure"]
    assert config.settings.sources, "the example config ships real sources"


@pytest.mark.parametrize(
    ("smtp", "required"),
    [
        ({"host": "smtp.example.org"}, True),
        ({"host": "127.0.0.1"}, False),
        ({"host": "localhost"}, False),
        ({"host": "127.0.0.1", "starttls": True}, True),
        ({"host": "smtp.example.org", "starttls": False}, False),
        ({"host": "smtp.example.org", "tls": True, "port": 465}, False),
    ],
    ids=["remote-default", "loopback-ip", "localhost", "forced-on", "forced-off", "implicit-tls"],
)
def test_starttls_is_required_by_default_except_on_loopback(
    smtp: dict[str, object], required: bool
) -> None:
    from monitor.config.schema import SmtpSettings

    assert SmtpSettings.model_validate(smtp).requires_starttls is required


def test_allow_private_takes_address_ranges_and_names_a_bad_one(tmp_path: Path) -> None:
    good = write(tmp_path / "good.yaml", "defaults:\n  allow_private: [10.1.2.0/24, 'fd00::/8']\n")
    assert load_settings(good).defaults.allow_private == ["10.1.2.0/24", "fd00::/8"]
    bad = write(tmp_path / "bad.yaml", "defaults:\n  allow_private: [10.1.2.0/24, intranet]\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(bad)
    assert problems_of(exc) == [
        f"{bad}:2:32: defaults.allow_private[1]: not an address range: 'intranet' "
        "(expected e.g. 10.1.2.0/24)"
    ]


def test_invalid_css_selector_is_a_validation_error_not_a_fetch_crash(tmp_path: Path) -> None:
    config = write(
        tmp_path / "monitor.yaml",
        "sources:\n  - name: press\n    page: https://e.org/news\n"
        "    select: {item: 'article[', title: h3, link: 'a@href'}\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    (problem,) = problems_of(exc)
    assert problem.startswith(f"{config}:4:20: sources[0].select.item: invalid CSS selector")


def test_the_severities_a_config_accepts_are_those_alerts_are_ranked_by() -> None:
    from typing import get_args

    from monitor.config.schema import Severity
    from monitor.model import SEVERITIES

    # written twice, as pydantic's Literal and as the ranking planning uses, least first
    assert get_args(Severity) == SEVERITIES
