"""The public surface: every command has help and is in the README; validate's exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.e2e_support import ROOT, SHIPPED_RULES, MonitorCli

COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_documented_in_the_readme(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert f"monitor {command}" in (ROOT / "README.md").read_text()


def test_validate_accepts_the_shipped_config() -> None:
    result = MonitorCli(ROOT).run("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rules" in result.stdout


def test_validate_prints_each_problem_with_its_position_and_exits_1(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yaml").write_text("name: r\nnotify: [c]\nmatch:\n  any: [x\n")
    (rules / "typo.yaml").write_text("name: t\nnotify: [slak]\nmatch: x\n")
    cli_ = MonitorCli(tmp_path)
    cli_.write_config("rules: rules/\nchannels:\n  c: {console: true}\n")
    result = cli_.run("validate")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{rules / 'broken.yaml'}:5:1: invalid YAML")
    assert lines[1] == f"{rules / 'typo.yaml'}:2:10: unknown channel 'slak'"


def test_config_from_environment_variable_when_no_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "elsewhere.yaml"
    config.write_text(f"rules: {SHIPPED_RULES}\nchannels:\n  c: {{console: true}}\n")
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert str(config) in result.output


def test_check_with_a_broken_config_exits_1_naming_the_file(tmp_path: Path) -> None:
    cli_ = MonitorCli(tmp_path)
    cli_.write_config("sources: [{name: a, feed: 'https://e.org/f', evry: 1m}]\n")
    result = cli_.run("check")
    assert result.returncode == 1
    assert f"{cli_.config}:1:46: unknown field 'evry', did you mean 'every'?" in result.stderr


def test_test_rule_explains_a_match_and_a_miss() -> None:
    runner = CliRunner()
    args = ["--config", str(ROOT / "monitor.yaml"), "test-rule", "foreign-tech-china-closure"]
    hit = runner.invoke(cli, [*args, "--text", "AWS shuts its AI lab in Shanghai"])
    assert hit.exit_code == 0, hit.output
    assert "MATCH" in hit.output
    assert "[Shanghai]" in hit.output
    assert "1 of 1 items match" in hit.output
    miss = runner.invoke(cli, [*args, "--text", "Microsoft opens an AI lab in Beijing"])
    assert "0 of 1 items match" in miss.output


def test_test_rule_reads_a_feed_file() -> None:
    feed = ROOT / "tests" / "fixtures" / "feeds" / "rss20.xml"
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(ROOT / "monitor.yaml"),
            "test-rule",
            "foreign-tech-china-closure",
            "--file",
            str(feed),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 of 3 items match" in result.output


def test_unknown_rule_name_is_an_error_listing_the_rules() -> None:
    result = CliRunner().invoke(
        cli, ["--config", str(ROOT / "monitor.yaml"), "test-rule", "nope", "--text", "x"]
    )
    assert result.exit_code == 1
    assert "no rule named 'nope' (rules: foreign-tech-china-closure)" in result.output
