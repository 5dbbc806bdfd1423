"""Delivery through the real command: retries, dead channels, hostile headlines, a SIGKILL."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e_support import MonitorCli, rss, stop
from tests.servers import LoopbackServer, Recorded, Reply, wait_until
from tests.smtp_server import SmtpTestServer

STORY = {
    "guid": "s1",
    "title": "Amazon closes its Shanghai lab",
    "link": "https://news.example.org/s1",
    "description": "The AI lab shuts.",
}
HOSTILE = {
    "guid": "s2",
    "title": "<!channel> <@U123> <http://evil.example|click> <script>alert(1)</script> lab shuts",
    "link": "https://news.example.org/s2",
    "description": "Lab news &amp; more.",
}


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


def monitor_for(
    tmp_path: Path,
    http_server: LoopbackServer,
    channels: str,
    *,
    extra: str = "",
    more_sources: str = "",
) -> MonitorCli:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.yaml").write_text("name: lab-news\nnotify: all\nmatch: lab\n")
    cli = MonitorCli(tmp_path)
    cli.write_config(
        "state: state/monitor.db\nrules: rules\n"
        f"sources:\n  - {{name: wire, feed: {http_server.url}/feed.xml, every: 1s}}\n"
        f"{more_sources}channels:\n{channels}{extra}"
    )
    return cli


def deliveries(cli: MonitorCli, *options: str) -> list[dict[str, Any]]:
    """What `monitor alerts --json` lists."""
    result = cli.run("alerts", *options, "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def keys(receiver: LoopbackServer, path: str) -> set[str]:
    return {r.headers["idempotency-key"] for r in receiver.requests_to(path)}


def test_a_webhook_answering_429_then_503_then_200_receives_the_alert_once(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([STORY])))
    receiver.set(
        "/hook",
        [Reply(status=429, headers={"Retry-After": "1"}), Reply(status=503), Reply(status=200)],
    )
    cli = monitor_for(tmp_path, http_server, f"  ops: {{webhook: {receiver.url}/hook}}\n")
    first = cli.run("check")
    assert first.returncode == 0, first.stderr
    hooks = receiver.requests_to("/hook")
    assert [json.loads(r.body)["title"] for r in hooks] == [STORY["title"]] * 3
    assert len(keys(receiver, "/hook")) == 1
    again = cli.run("check")
    assert again.returncode == 0, again.stderr
    assert len(receiver.requests_to("/hook")) == 3
    listed = deliveries(cli)
    assert [(d["channel"], d["status"], d["attempts"]) for d in listed] == [("ops", "sent", 3)]


def test_a_dead_webhook_does_not_stop_slack_and_email(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer, smtp: SmtpTestServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([STORY])))
    receiver.set("/slack", Reply(body="ok"))
    receiver.set("/dead", Reply(status=503, body="down"))
    cli = monitor_for(
        tmp_path,
        http_server,
        f"  ops: {{webhook: {receiver.url}/dead}}\n"
        f"  newsroom: {{slack: {receiver.url}/slack}}\n"
        "  analysts: {email: {to: [a@example.org], from: m@example.org}}\n",
        extra=f"smtp: {{host: 127.0.0.1, port: {smtp.port}, starttls: false}}\n"
        "defaults: {delivery_budget: 3s}\n",
    )
    result = cli.run("check")
    assert result.returncode == 0, result.stderr
    assert len(receiver.requests_to("/slack")) == 1
    assert len(smtp.received) == 1
    assert receiver.requests_to("/dead")
    listed = {d["channel"]: d for d in deliveries(cli)}
    assert listed["newsroom"]["status"] == listed["analysts"]["status"] == "sent"
    assert listed["ops"]["status"] == "pending"
    assert "503" in listed["ops"]["last_error"]
    table = cli.run("alerts").stdout
    assert "pending" in table
    assert "503" in table


def test_a_hostile_headline_reaches_slack_and_email_only_as_text(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer, smtp: SmtpTestServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([HOSTILE])))
    receiver.set("/slack", Reply(body="ok"))
    cli = monitor_for(
        tmp_path,
        http_server,
        f"  newsroom: {{slack: {receiver.url}/slack}}\n"
        "  analysts: {email: {to: [a@example.org], from: m@example.org}}\n",
        extra=f"smtp: {{host: 127.0.0.1, port: {smtp.port}, starttls: false}}\n",
    )
    result = cli.run("check")
    assert result.returncode == 0, result.stderr
    (slack,) = receiver.requests_to("/slack")
    message = json.loads(slack.body)
    every_text = json.dumps(message)
    for markup in ("<!channel>", "<@U123>", "<http://evil.example|click>", "<script>"):
        assert markup not in every_text
    assert "&lt;!channel&gt;" in message["text"]
    assert "&lt;@U123&gt;" in message["text"]
    (mail,) = smtp.received
    html = next(p for p in mail.message.walk() if p.get_content_type() == "text/html")
    body = html.get_content()
    # the feed reader drops the script element; whatever survives is escaped
    assert "<script>" not in body
    assert "alert(1)" not in body or "&lt;script&gt;" in body
    assert "&lt;!channel&gt;" in body
    assert "\n" not in str(mail.message["Subject"])


def test_sigkill_while_the_only_channel_is_down_loses_nothing_and_sends_once(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([STORY])))
    receiver.set("/hook", Reply(status=503))
    cli = monitor_for(tmp_path, http_server, f"  ops: {{webhook: {receiver.url}/hook}}\n")
    process = cli.start("run")
    try:
        assert wait_until(lambda: len(receiver.requests_to("/hook")) >= 1, timeout=30)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    failed = len(receiver.requests_to("/hook"))

    receiver.set("/hook", Reply(status=204))
    process = cli.start("run")
    try:
        assert wait_until(lambda: len(receiver.requests_to("/hook")) > failed, timeout=30)
        # more sweeps and polls must not send it again
        assert not wait_until(lambda: len(receiver.requests_to("/hook")) > failed + 1, timeout=8)
    finally:
        code, _, err = stop(process)
    assert code == 0, err
    assert len(keys(receiver, "/hook")) == 1
    listed = deliveries(cli)
    assert [(d["status"], d["title"]) for d in listed] == [("sent", STORY["title"])]


OTHER = {
    "guid": "s3",
    "title": "IBM shuts a lab in Beijing",
    "link": "https://news.example.org/s3",
    "description": "Research ends.",
}


def test_a_silence_mutes_matching_alerts_records_them_and_can_be_expired(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([STORY, OTHER])))
    receiver.set("/hook", Reply(status=204))
    cli = monitor_for(tmp_path, http_server, f"  ops: {{webhook: {receiver.url}/hook}}\n")
    added = cli.run("silence", "add", "--rule", "lab-news", "--match", "amazon", "--for", "7d")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("silence #1 added (rule lab-news, 'amazon', until ")
    assert "amazon" in cli.run("silence", "list").stdout

    result = cli.run("check")
    assert result.returncode == 0, result.stderr
    assert [json.loads(r.body)["title"] for r in receiver.requests_to("/hook")] == [OTHER["title"]]
    silenced = deliveries(cli, "--status", "silenced")
    assert [(d["title"], d["channel"]) for d in silenced] == [(STORY["title"], "ops")]
    assert silenced[0]["last_error"].startswith("silenced by #1 (rule lab-news, 'amazon'")

    assert cli.run("silence", "expire", "1").returncode == 0
    assert cli.run("silence", "list").stdout.strip() == "no silences"
    assert cli.run("silence", "expire", "1").returncode == 1


def test_min_severity_keeps_lesser_alerts_off_a_channel(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([STORY])))
    receiver.set("/all", Reply(status=204))
    receiver.set("/pager", Reply(status=204))
    cli = monitor_for(
        tmp_path,
        http_server,
        f"  everything: {{webhook: {receiver.url}/all}}\n"
        f"  pager: {{webhook: {receiver.url}/pager, min_severity: critical}}\n",
    )
    (tmp_path / "rules" / "r.yaml").write_text(
        "name: lab-news\nnotify: all\nseverity: warning\nmatch: lab\n"
    )
    assert cli.run("check").returncode == 0
    assert [json.loads(r.body)["severity"] for r in receiver.requests_to("/all")] == ["warning"]
    assert receiver.requests_to("/pager") == []


def lab_story(n: int) -> dict[str, str]:
    return {
        "guid": f"lab-{n}",
        "title": f"Lab number {n} shuts",
        "link": f"https://news.example.org/lab-{n}",
        "description": "A lab closes.",
    }


def test_check_sends_email_as_one_digest_and_webhooks_one_by_one(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer, smtp: SmtpTestServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([lab_story(n) for n in range(3)])))
    receiver.set("/hook", Reply(status=204))
    cli = monitor_for(
        tmp_path,
        http_server,
        f"  ops: {{webhook: {receiver.url}/hook}}\n"
        "  analysts: {email: {to: [a@example.org], from: m@example.org}}\n",
        extra=f"smtp: {{host: 127.0.0.1, port: {smtp.port}, starttls: false}}\n",
    )
    result = cli.run("check")
    assert result.returncode == 0, result.stderr
    assert len(receiver.requests_to("/hook")) == 3
    (mail,) = smtp.received
    assert str(mail.message["Subject"]) == "[monitor] 3 alerts: lab-news (3)"
    text = next(p for p in mail.message.walk() if p.get_content_type() == "text/plain")
    assert all(f"Lab number {n} shuts" in text.get_content() for n in range(3))
    statuses = deliveries(cli)
    assert sorted((d["channel"], d["status"]) for d in statuses) == sorted(
        [("ops", "sent")] * 3 + [("analysts", "sent")] * 3
    )


def test_the_daemon_holds_a_group_for_group_wait_then_sends_one_digest(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([])))
    receiver.set("/hook", Reply(status=204))
    cli = monitor_for(
        tmp_path,
        http_server,
        f"  ops: {{webhook: {receiver.url}/hook, group_wait: 4s, group_interval: 1h}}\n",
    )
    process = cli.start("run")
    try:
        assert wait_until(lambda: len(http_server.requests_to("/feed.xml")) >= 1, timeout=20)
        http_server.set("/feed.xml", Reply(body=rss([lab_story(n) for n in range(4)])))
        started = time.monotonic()
        assert wait_until(lambda: len(receiver.requests_to("/hook")) >= 1, timeout=30)
        waited = time.monotonic() - started
        http_server.set("/feed.xml", Reply(body=rss([lab_story(n) for n in range(6)])))
        # the two new alerts wait for group_interval: no second digest now
        assert not wait_until(lambda: len(receiver.requests_to("/hook")) > 1, timeout=8)
    finally:
        code, _, err = stop(process)
    assert code == 0, err
    assert waited >= 3.5
    (digest,) = receiver.requests_to("/hook")
    payload = json.loads(digest.body)
    assert payload["count"] == 4
    assert sorted(a["title"] for a in payload["alerts"]) == [
        f"Lab number {n} shuts" for n in range(4)
    ]
    assert digest.headers["idempotency-key"] == payload["id"]


@pytest.mark.parametrize(("repeat", "sent"), [("1d", 1), ("0s", 2)])
def test_a_story_retold_by_another_feed_is_recorded_but_not_sent_again(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer, repeat: str, sent: int
) -> None:
    first = {**STORY, "title": "Amazon to close Shanghai AI lab"}
    retold = {
        "guid": "other-wire-1",
        "title": "Amazon closes its Shanghai AI lab - report",
        "link": "https://other.example.net/amazon-lab",
        "description": "The lab shuts.",
    }
    http_server.set("/feed.xml", Reply(body=rss([first])))
    http_server.set("/other.xml", Reply(body=rss([retold])))
    receiver.set("/hook", Reply(status=204))
    cli = monitor_for(
        tmp_path,
        http_server,
        f"  ops: {{webhook: {receiver.url}/hook}}\n",
        extra=f"defaults: {{repeat_interval: {repeat}}}\n",
    )
    text = cli.config.read_text().replace(
        "sources:\n",
        f"sources:\n  - {{name: other, feed: {http_server.url}/other.xml}}\n",
    )
    cli.write_config(text)
    assert cli.run("check").returncode == 0
    assert cli.run("check").returncode == 0
    assert len(receiver.requests_to("/hook")) == sent
    held = deliveries(cli, "--status", "silenced")
    assert len(held) == 2 - sent
    if held:
        assert held[0]["last_error"].startswith("repeat of alert ")


def test_user_templates_shape_email_and_slack_and_validate_checks_them(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer, smtp: SmtpTestServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([HOSTILE])))
    receiver.set("/slack", Reply(body="ok"))
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "email.subject").write_text("{{ severity|upper }}\n{{ title }}")
    (templates / "email.html").write_text("<h1>{{ title }}</h1><p>{{ why }}</p>")
    (templates / "slack.md").write_text("*{{ title }}* from {{ source }}")
    cli = monitor_for(
        tmp_path,
        http_server,
        f"  newsroom: {{slack: {receiver.url}/slack}}\n"
        "  analysts: {email: {to: [a@example.org], from: m@example.org}}\n",
        extra=f"smtp: {{host: 127.0.0.1, port: {smtp.port}, starttls: false}}\n"
        "templates: templates\n",
    )
    assert cli.run("validate").returncode == 0
    assert cli.run("check").returncode == 0
    (mail,) = smtp.received
    assert str(mail.message["Subject"]).startswith("INFO <!channel> <@U123>")
    html = next(p for p in mail.message.walk() if p.get_content_type() == "text/html")
    assert html.get_content().startswith("<h1>&lt;!channel&gt; &lt;@U123&gt;")
    (slack,) = receiver.requests_to("/slack")
    section = json.loads(slack.body)["blocks"][0]["text"]["text"]
    assert section.startswith("*&lt;!channel&gt; &lt;@U123&gt;")
    assert section.endswith("* from wire")

    (templates / "slack.md").write_text("{{ nope }}")
    result = cli.run("validate")
    assert result.returncode == 1
    assert f"{templates}/slack.md:1:1: cannot render a sample alert" in result.stdout


def test_a_delivery_is_dead_lettered_after_max_attempts_and_can_be_retried(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss([STORY])))
    receiver.set("/hook", Reply(status=503))
    cli = monitor_for(
        tmp_path,
        http_server,
        f"  ops: {{webhook: {receiver.url}/hook}}\n",
        extra="defaults: {delivery_max_attempts: 2}\n",
    )
    assert cli.run("check").returncode == 0
    assert len(receiver.requests_to("/hook")) == 2
    (dead,) = deliveries(cli)
    assert dead["status"] == "dead"
    assert dead["last_error"].endswith("(gave up after 2 tries)")

    receiver.set("/hook", Reply(status=204))
    retried = cli.run("alerts", "retry", str(dead["id"]))
    assert retried.stdout.startswith("1 dead deliveries queued again")
    assert cli.run("check").returncode == 0
    assert len(receiver.requests_to("/hook")) == 3
    (sent,) = deliveries(cli)
    assert (sent["status"], sent["attempts"]) == ("sent", 1)


# without workers the pass writes from a thread; with them, from a process of its own, where
# the sweeps' writes go too
@pytest.mark.parametrize("workers", [0, 2])
def test_check_sends_an_alert_while_a_slow_feed_is_still_being_read(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer, workers: int
) -> None:
    alerted = threading.Event()

    def webhook(_request: Recorded) -> Reply:
        alerted.set()
        return Reply(status=204)

    answered_after_alert: list[bool] = []

    def slow_feed(_request: Recorded) -> Reply:
        # holds its answer until the alert of the other feed arrived (or 10 s went by)
        answered_after_alert.append(alerted.wait(timeout=10))
        return Reply(body=rss([]))

    http_server.set("/feed.xml", Reply(body=rss([STORY])))
    http_server.set("/slow.xml", slow_feed)
    receiver.set("/hook", webhook)
    cli = monitor_for(
        tmp_path,
        http_server,
        f"  ops: {{webhook: {receiver.url}/hook}}\n",
        more_sources=f"  - {{name: slow, feed: {http_server.url}/slow.xml}}\n",
        extra=f"defaults: {{parse_workers: {workers}}}\n",
    )
    result = cli.run("check")
    assert result.returncode == 0, result.stderr
    assert answered_after_alert == [True]
    assert "delivered 1, retrying 0, dead 0" in result.stdout
    assert len(receiver.requests_to("/hook")) == 1
    # recorded as sent by the sweep that sent it: the next pass sends it no more
    (sent,) = deliveries(cli)
    assert (sent["status"], sent["attempts"]) == ("sent", 1)
    again = cli.run("check")
    assert "delivered 0, retrying 0, dead 0" in again.stdout, again.stderr
    assert len(receiver.requests_to("/hook")) == 1
