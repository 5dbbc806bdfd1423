"""The whole path through the real command: feed -> shipped rule -> Slack, webhook, email."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e_support import SHIPPED_RULES, STORY, UNRELATED, MonitorCli, rss, stop
from tests.servers import LoopbackServer, Reply, wait_until
from tests.smtp_server import SmtpTestServer

SECRET = "whsec-test-4b1d"
SMTP_USER, SMTP_PASSWORD = "monitor", "smtp-pass-9c2e"


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer(starttls=True, credentials=(SMTP_USER, SMTP_PASSWORD)) as server:
        yield server


@pytest.fixture
def cli(
    tmp_path: Path,
    http_server: LoopbackServer,
    receiver: LoopbackServer,
    smtp: SmtpTestServer,
) -> MonitorCli:
    receiver.set("/slack", Reply(body="ok"))
    receiver.set("/hook", Reply(status=204))
    monitor = MonitorCli(
        tmp_path,
        env={
            "SLACK_WEBHOOK_URL": f"{receiver.url}/slack",
            "WEBHOOK_SECRET": SECRET,
            "SMTP_USER": SMTP_USER,
            "SMTP_PASSWORD": SMTP_PASSWORD,
        },
    )
    monitor.write_config(
        f"""
state: state/monitor.db
rules: {SHIPPED_RULES}
smtp:
  host: 127.0.0.1
  port: {smtp.port}
  starttls: true
  username: "${{SMTP_USER}}"
  password: "${{SMTP_PASSWORD}}"
  ca_file: {smtp.ca_file}
sources:
  - name: test-wire
    feed: {http_server.url}/feed.xml
    every: 1s
channels:
  newsroom: {{slack: "${{SLACK_WEBHOOK_URL}}"}}
  analysts: {{email: {{to: [analyst@example.org], from: monitor@example.org}}}}
  ops: {{webhook: "{receiver.url}/hook", secret: "${{WEBHOOK_SECRET}}"}}
  terminal: {{console: true}}
"""
    )
    return monitor


def payload_key(body: bytes) -> str:
    key: str = json.loads(body)["id"]
    return key


def test_check_twice_alerts_once_per_channel_and_never_for_unrelated_items(
    cli: MonitorCli, http_server: LoopbackServer, receiver: LoopbackServer, smtp: SmtpTestServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([UNRELATED[0], STORY, *UNRELATED[1:]])))

    first = cli.run("check")
    assert first.returncode == 0, first.stderr
    assert "test-wire: ok, 4 items, 4 new, 1 alerts\n" in first.stdout
    assert STORY["title"] in first.stdout  # the console channel
    second = cli.run("check")
    assert second.returncode == 0, second.stderr
    assert "test-wire: ok, 4 items, 0 new, 0 alerts" in second.stdout

    (slack,) = receiver.requests_to("/slack")
    message = json.loads(slack.body)
    assert STORY["title"] in message["text"]
    assert message["blocks"]
    assert "link_names" not in message

    (hook,) = receiver.requests_to("/hook")
    assert hook.headers["user-agent"].startswith("news-monitor/")
    assert hook.headers["idempotency-key"] == payload_key(hook.body)
    expected = hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["x-monitor-signature"] == f"sha256={expected}"
    payload = json.loads(hook.body)
    assert payload["rule"] == "foreign-tech-china-closure"
    assert payload["title"] == STORY["title"]
    assert payload["url"] == STORY["link"]
    assert payload["source"] == "test-wire"
    assert payload["published"] == "2024-09-03T08:30:00+00:00"
    assert {m["field"] for m in payload["matched"]} >= {"title"}
    assert "Shanghai" in {m["text"] for m in payload["matched"]}

    (mail,) = smtp.received
    assert mail.tls
    assert mail.login == SMTP_USER
    assert "foreign-tech-china-closure" in mail.message["Subject"]
    assert STORY["title"] in mail.message["Subject"]
    kinds = {part.get_content_type() for part in mail.message.walk()}
    assert {"text/plain", "text/html"} <= kinds


def test_plain_local_smtp_relay_needs_no_tls_settings(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([STORY])))
    with SmtpTestServer() as relay:
        cli = MonitorCli(tmp_path)
        cli.write_config(
            f"rules: {SHIPPED_RULES}\n"
            f"smtp: {{host: 127.0.0.1, port: {relay.port}}}\n"
            f"sources:\n  - {{name: wire, feed: '{http_server.url}/feed.xml'}}\n"
            "channels:\n  mail: {email: {to: [a@example.org], from: m@example.org}}\n"
        )
        result = cli.run("check")
        received = relay.received
    assert result.returncode == 0, result.stderr
    assert "delivered 1, retrying 0, dead 0" in result.stdout
    (mail,) = received
    assert STORY["title"] in mail.message["Subject"]


def test_check_reports_an_unreachable_source_and_still_exits_zero(
    cli: MonitorCli, http_server: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(status=503))
    result = cli.run("check")
    assert result.returncode == 0, result.stderr
    assert "test-wire: error: source 'test-wire': http_status: HTTP 503" in result.stdout


def test_run_alerts_an_item_added_while_it_runs_and_exits_zero_on_sigterm(
    cli: MonitorCli, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss(UNRELATED)))
    process = cli.start("-v", "run")
    try:
        assert wait_until(lambda: len(http_server.requests_to("/feed.xml")) >= 2, timeout=20)
        assert receiver.requests_to("/hook") == []
        http_server.set("/feed.xml", Reply(body=rss([STORY, *UNRELATED])))
        assert wait_until(lambda: len(receiver.requests_to("/hook")) == 1, timeout=20)
        assert wait_until(lambda: len(receiver.requests_to("/slack")) == 1, timeout=10)
        time.sleep(2.5)  # more polls of the same feed must not repeat the alert
    finally:
        code, out, err = stop(process)
    assert code == 0, err
    assert len(receiver.requests_to("/hook")) == 1
    assert STORY["title"] in out


def test_run_stopped_while_a_poll_waits_for_its_answer_exits_cleanly(
    cli: MonitorCli, http_server: LoopbackServer
) -> None:
    # a slow answer keeps the poll in flight when SIGTERM comes: cutting it short is the stop
    # asked for, not an error to log with a traceback
    http_server.set("/feed.xml", Reply(body=rss(UNRELATED), delay=3))
    process = cli.start("run")
    try:
        assert wait_until(lambda: len(http_server.requests_to("/feed.xml")) >= 1, timeout=20)
        time.sleep(0.3)
    finally:
        code, _, err = stop(process)
    assert code == 0, err
    assert "Traceback" not in err, err
    assert " ERROR " not in err, err


def test_second_instance_on_the_same_state_refuses_to_start(
    cli: MonitorCli, http_server: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss(UNRELATED)))
    first = cli.start("run")
    try:
        assert wait_until(lambda: len(http_server.requests_to("/feed.xml")) >= 1, timeout=20)
        second = cli.run("check")
    finally:
        code, _, err = stop(first)
    assert code == 0, err
    assert second.returncode == 1
    assert "another instance holds" in second.stderr
    assert f"(pid {first.pid})" in second.stderr


def test_run_keeps_going_while_sources_are_unreachable(tmp_path: Path) -> None:
    cli = MonitorCli(tmp_path)
    cli.write_config(
        f"rules: {SHIPPED_RULES}\n"
        "sources:\n  - {name: gone, feed: 'http://127.0.0.1:9/feed', every: 1s}\n"
        "channels:\n  terminal: {console: true}\n"
    )
    process = cli.start("-v", "run")
    time.sleep(4)
    assert process.poll() is None, "the daemon must keep running"
    code, _, err = stop(process)
    assert code == 0
    assert "source gone failed" in err
    assert "network" in err


def test_sources_table_shows_health_after_a_check(
    cli: MonitorCli, http_server: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(status=503))
    cli.run("check")
    failing = cli.run("sources")
    assert failing.returncode == 0, failing.stderr
    header, row = failing.stdout.splitlines()
    assert header.split()[:2] == ["SOURCE", "STATUS"]
    assert row.split()[:2] == ["test-wire", "failing"]
    assert "HTTP 503" in row

    http_server.set("/feed.xml", Reply(body=rss(UNRELATED)))
    cli.run("check")
    healthy = cli.run("sources").stdout.splitlines()[1].split()
    assert healthy[:2] == ["test-wire", "ok"]
    assert "3" in healthy  # items seen in the last day


def test_check_prints_sources_in_config_order_however_their_answers_arrive(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    # concurrency 2 keeps 16 sources in progress at once: the 20 are taken in turns, and the
    # first answers last
    for n in range(20):
        http_server.set(f"/feed-{n}.xml", Reply(body=rss(UNRELATED), delay=0.5 if n == 0 else 0))
    cli = MonitorCli(tmp_path)
    cli.write_config(
        "state: state/monitor.db\n"
        f"rules: {SHIPPED_RULES}\n"
        "defaults: {concurrency: 2, host_concurrency: 2, host_spacing: 0s,"
        " allow_private: [127.0.0.1/32]}\n"
        "sources:\n"
        + "".join(
            f"  - {{name: wire-{n}, feed: {http_server.url}/feed-{n}.xml}}\n" for n in range(20)
        )
        + "channels:\n  console: {console: {format: text}}\n"
    )
    result = cli.run("check")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("wire-")]
    assert [line.split(":")[0] for line in lines] == [f"wire-{n}" for n in range(20)]
    assert all(f"{len(UNRELATED)} items" in line for line in lines)


def test_a_story_two_new_sources_carry_is_stored_and_alerted_once(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    # Worker processes read both feeds; neither source has stored an item yet, so the copies
    # are told apart only as they are committed.
    for name in ("wire", "mirror"):
        http_server.set(f"/{name}.xml", Reply(body=rss([STORY, *UNRELATED])))
    cli = MonitorCli(tmp_path)
    cli.write_config(
        "state: state/monitor.db\n"
        f"rules: {SHIPPED_RULES}\n"
        "defaults: {parse_workers: 2, host_spacing: 0s, allow_private: [127.0.0.1/32]}\n"
        "sources:\n"
        f"  - {{name: wire, feed: {http_server.url}/wire.xml}}\n"
        f"  - {{name: mirror, feed: {http_server.url}/mirror.xml}}\n"
        "channels:\n  console: {console: {format: json}}\n"
    )
    result = cli.run("check")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(("wire:", "mirror:"))]
    new = [int(line.split(", ")[2].split()[0]) for line in lines]
    alerts = [int(line.split(", ")[3].split()[0]) for line in lines]
    assert sorted(new) == [0, 4]
    assert sum(alerts) == 1
    assert result.stdout.count(f'"title": "{STORY["title"]}"') == 1
    assert "delivered 1," in result.stdout

    again = cli.run("check")
    assert "wire: ok, 4 items, 0 new, 0 alerts" in again.stdout
    assert "mirror: ok, 4 items, 0 new, 0 alerts" in again.stdout


# the command as `python -m monitor` runs it, then (as it exits) whether it loaded SQLAlchemy
_CHECK_THEN_REPORT_IMPORTS = """
import atexit, runpy, sys
atexit.register(lambda: print("sqlalchemy loaded:", "sqlalchemy" in sys.modules, flush=True))
sys.argv = ["monitor", *sys.argv[1:]]
runpy.run_module("monitor", run_name="__main__")
"""


@pytest.mark.parametrize("parse_workers", [0, 2])
def test_a_state_path_that_cannot_be_opened_is_reported_alike_with_or_without_workers(
    tmp_path: Path, http_server: LoopbackServer, parse_workers: int
) -> None:
    http_server.set("/wire.xml", Reply(body=rss([STORY, *UNRELATED])))
    (tmp_path / "state" / "monitor.db").mkdir(parents=True)
    cli = MonitorCli(tmp_path)
    cli.write_config(
        "state: state/monitor.db\n"
        f"rules: {SHIPPED_RULES}\n"
        f"defaults: {{parse_workers: {parse_workers}, allow_private: [127.0.0.1/32]}}\n"
        f"sources:\n  - {{name: wire, feed: {http_server.url}/wire.xml}}\n"
        "channels:\n  console: {console: true}\n"
    )
    result = cli.run("check")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: cannot open state database {tmp_path}/state/monitor.db: it is a folder, not a file"
    )
    assert result.stdout == ""


def test_a_check_with_workers_leaves_the_database_library_to_the_store_process(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    http_server.set("/wire.xml", Reply(body=rss([STORY, *UNRELATED])))
    cli = MonitorCli(tmp_path)
    cli.write_config(
        "state: state/monitor.db\n"
        f"rules: {SHIPPED_RULES}\n"
        "defaults: {parse_workers: 2, allow_private: [127.0.0.1/32]}\n"
        f"sources:\n  - {{name: wire, feed: {http_server.url}/wire.xml}}\n"
        "channels:\n  console: {console: true}\n"
    )
    command = [sys.executable, "-c", _CHECK_THEN_REPORT_IMPORTS, "--config", str(cli.config)]

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, "check"], capture_output=True, text=True, timeout=120, cwd=tmp_path
        )

    first = check()
    assert first.returncode == 0, first.stderr
    assert "wire: ok, 4 items, 4 new, 1 alerts" in first.stdout
    assert "sqlalchemy loaded: False" in first.stdout
    # what it stored is what the next check reads, through the same process
    again = check()
    assert "wire: ok, 4 items, 0 new, 0 alerts" in again.stdout
    assert "sqlalchemy loaded: False" in again.stdout
    # a command that reads the store itself loads it: the report above is not a constant
    sources = subprocess.run(
        [*command, "sources"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert sources.returncode == 0, sources.stderr
    assert "sqlalchemy loaded: True" in sources.stdout
