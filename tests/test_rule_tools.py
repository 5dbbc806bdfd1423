"""The tools of rule writers, through the real command: validate, test-rule, history replay."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e_support import MonitorCli, rss, stop
from tests.servers import LoopbackServer, Reply, wait_until

STORIES = [
    {"guid": "a", "title": "Amazon closes its Shanghai lab", "link": "https://n.example/a",
     "description": "The AI lab shuts."},
    {"guid": "b", "title": "IBM closes its Beijing office", "link": "https://n.example/b",
     "description": "Staff move."},
    {"guid": "c", "title": "Rain expected this weekend", "link": "https://n.example/c",
     "description": "Forecasters warn."},
]  # fmt: skip


def setup(tmp_path: Path, http_server: LoopbackServer, match: str) -> MonitorCli:
    (tmp_path / "rules" / "lists").mkdir(parents=True)
    (tmp_path / "rules" / "lists" / "sites.yaml").write_text("terms: [lab, office]\n")
    (tmp_path / "rules" / "r.yaml").write_text(f"name: r\nnotify: all\nmatch: {match}\n")
    http_server.set("/feed.xml", Reply(body=rss(STORIES)))
    cli = MonitorCli(tmp_path)
    cli.write_config(
        "state: state/monitor.db\nrules: rules\n"
        f"sources:\n  - {{name: wire, feed: {http_server.url}/feed.xml}}\n"
        "channels:\n  terminal: {console: true}\n"
    )
    return cli


def test_history_replay_shows_what_an_edited_rule_adds_and_drops(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    cli = setup(tmp_path, http_server, "{all: [close, lab]}")
    first = cli.run("check")
    assert first.returncode == 0, first.stderr
    assert "1 alerts" in first.stdout

    (tmp_path / "rules" / "r.yaml").write_text(
        "name: r\nnotify: all\nmatch: {all: [close, office]}\n"
    )
    replayed = cli.run("test-rule", "r", "--history", "30d")
    assert replayed.returncode == 0, replayed.stderr
    out = replayed.stdout
    assert "[wire] MATCH    (added) IBM closes its Beijing office" in out
    assert "[wire] no match (dropped) Amazon closes its Shanghai lab" in out
    assert "title: …IBM [closes] its Beijing office… (close)" in out
    assert "Rain" not in out
    assert out.rstrip().endswith(
        "3 items stored in the last 30d: 1 match r; "
        "compared with the alerts it sent, 1 added and 1 dropped"
    )

    as_json = cli.run("test-rule", "r", "--history", "30d", "--json")
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {(r["title"], r["change"]) for r in rows} == {
        ("IBM closes its Beijing office", "added"),
        ("Amazon closes its Shanghai lab", "dropped"),
    }


def test_history_needs_a_duration(tmp_path: Path, http_server: LoopbackServer) -> None:
    cli = setup(tmp_path, http_server, "lab")
    result = cli.run("test-rule", "r", "--history", "lately")
    assert result.returncode == 2
    assert "invalid duration 'lately'" in result.stderr


def test_test_rule_text_shows_score_and_highlighted_evidence(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    cli = setup(
        tmp_path,
        http_server,
        "{score: [{list: sites, weight: 2}, {any: [close], title_weight: 3}], threshold: 4}",
    )
    result = cli.run("test-rule", "r", "--text", "Amazon closes lab\nThe lab in Shanghai")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "MATCH    Amazon closes lab",
        "         score: 5",
        "         title: …Amazon closes [lab]… (lab)",
        "         summary: …The [lab] in Shanghai… (lab)",
        "         title: …Amazon [closes] lab… (close)",
        "1 of 1 items match r",
    ]


def test_validate_reports_unknown_lists_bad_regexes_and_failing_examples(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    cli = setup(tmp_path, http_server, "lab")
    (tmp_path / "rules" / "r.yaml").write_text(
        "name: r\nnotify: all\nmatch:\n  all: ['@site', {regex: 'clos(e'}]\n"
    )
    (tmp_path / "rules" / "s.yaml").write_text(
        "name: s\nnotify: all\nmatch: '@sites'\nexamples:\n  no_match: [A lab opens]\n"
    )
    result = cli.run("validate")
    assert result.returncode == 1
    rules = tmp_path / "rules"
    assert result.stdout.splitlines() == [
        f"{rules}/r.yaml:4:9: unknown list 'site' (lists: sites)",
        f"{rules}/r.yaml:4:26: invalid regex: missing ), unterminated subpattern at position 4",
        f"{rules}/s.yaml:5:14: example should not match rule 's' but does (matched: lab): "
        "'A lab opens'",
    ]


@pytest.mark.parametrize("pattern", ["(a+)+$", "(x|x)*y"])
def test_a_regex_that_could_backtrack_for_ever_is_refused_before_any_feed_is_read(
    tmp_path: Path, http_server: LoopbackServer, pattern: str
) -> None:
    # FAULTS C5: 64 KB of "a" would hold Python's regex engine for longer than a lifetime
    cli = setup(tmp_path, http_server, f"{{regex: '{pattern}'}}")
    http_server.set("/feed.xml", Reply(body=rss([{**STORIES[0], "description": "a" * 65536}])))
    rules = tmp_path / "rules"

    validated = cli.run("validate", timeout=30)
    checked = cli.run("check", timeout=30)

    assert validated.returncode == 1
    (problem,) = validated.stdout.splitlines()
    assert problem.startswith(f"{rules}/r.yaml:3:")
    assert "exponential time" in problem
    assert checked.returncode != 0
    assert f"{rules}/r.yaml:3:" in checked.stdout + checked.stderr
    assert http_server.requests_to("/feed.xml") == []


def test_run_reloads_an_edited_list_and_keeps_the_last_good_rules_when_broken(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    cli = setup(tmp_path, http_server, "'@sites'")
    http_server.set("/feed.xml", Reply(body=rss(STORIES[2:])))
    receiver.set("/hook", Reply(status=204))
    cli.write_config(
        "state: state/monitor.db\nrules: rules\n"
        f"sources:\n  - {{name: wire, feed: {http_server.url}/feed.xml, every: 1s}}\n"
        f"channels:\n  ops: {{webhook: {receiver.url}/hook}}\n"
    )
    sites = tmp_path / "rules" / "lists" / "sites.yaml"
    sites.write_text("terms: [warehouse]\n")

    def alerted() -> set[str]:
        return {json.loads(r.body)["title"] for r in receiver.requests_to("/hook")}

    process = cli.start("run")
    try:
        assert wait_until(lambda: len(http_server.requests_to("/feed.xml")) >= 2, timeout=20)
        sites.write_text("terms: [office]\n")
        time.sleep(3)  # the daemon looks at the rule files every 2 s
        http_server.set("/feed.xml", Reply(body=rss(STORIES[1:])))
        assert wait_until(lambda: alerted() == {STORIES[1]["title"]}, timeout=20)

        sites.write_text("terms: [lab, {a: [b], c: [d]}]\n")
        time.sleep(3)
        http_server.set("/feed.xml", Reply(body=rss(STORIES)))
        assert wait_until(lambda: len(http_server.requests_to("/feed.xml")) >= 8, timeout=20)
        # the broken list was refused: still the office rule, so the lab story is not alerted
        assert alerted() == {STORIES[1]["title"]}
    finally:
        code, _, err = stop(process)
    assert code == 0, err
    assert "keeping the last good rules" in err
    assert f"{sites}:1:14: an entry is a term or  NAME: [alias, ...]" in err
