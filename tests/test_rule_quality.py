"""The shipped rule on a labelled corpus: precision and recall, on values and through a feed."""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from monitor.config import load_rules
from monitor.match import Rule
from monitor.match.corpus import LabelledItem, load_corpus, measure
from tests.e2e_support import SHIPPED_RULES, MonitorCli
from tests.servers import LoopbackServer, Reply

CORPUS = Path(__file__).resolve().parent / "corpus" / "foreign_tech_china_closure.yaml"
MIN_PRECISION, MIN_RECALL = 0.95, 0.90


@pytest.fixture(scope="module")
def shipped() -> Rule:
    (rule,) = load_rules(SHIPPED_RULES, {"console"})
    return rule


@pytest.fixture(scope="module")
def corpus() -> list[LabelledItem]:
    return load_corpus(CORPUS)


def test_the_corpus_is_large_and_mostly_hard_negatives(corpus: list[LabelledItem]) -> None:
    positives = [x for x in corpus if x.positive]
    assert len(corpus) >= 150
    assert 0.3 <= len(positives) / len(corpus) <= 0.45
    # every shape the rule must catch, and every kind of look-alike it must not
    assert {x.kind for x in positives} >= {
        "lab", "rnd", "office", "service", "factory", "staff", "scaled_back", "described",
    }  # fmt: skip
    assert {x.kind for x in corpus if not x.positive} >= {
        "opening", "chinese_abroad", "elsewhere", "unrelated", "close_other_sense", "denied",
    }  # fmt: skip


def test_shipped_rule_precision_and_recall_on_the_corpus(
    shipped: Rule, corpus: list[LabelledItem]
) -> None:
    quality = measure(shipped, corpus)
    assert quality.precision >= MIN_PRECISION, quality.report()
    assert quality.recall >= MIN_RECALL, quality.report()


def corpus_feed(corpus: list[LabelledItem]) -> bytes:
    entries = "".join(
        f"<item><title>{escape(x.item.title)}</title>"
        f"<link>https://news.example.org/story/{index}</link>"
        f"<description>{escape(x.item.summary)}</description></item>"
        for index, x in enumerate(corpus)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Corpus</title>'
        f"<link>https://news.example.org/</link>{entries}</channel></rss>"
    ).encode()


def test_the_corpus_served_as_a_feed_alerts_the_positives_through_monitor_check(
    tmp_path: Path,
    http_server: LoopbackServer,
    receiver: LoopbackServer,
    corpus: list[LabelledItem],
) -> None:
    http_server.set("/corpus.xml", Reply(body=corpus_feed(corpus)))
    receiver.set("/hook", Reply(status=204))
    cli = MonitorCli(tmp_path)
    cli.write_config(
        f"state: state/monitor.db\nrules: {SHIPPED_RULES}\n"
        f"sources:\n  - {{name: corpus, feed: {http_server.url}/corpus.xml}}\n"
        f"channels:\n  ops: {{webhook: {receiver.url}/hook}}\n"
    )
    result = cli.run("check")
    assert result.returncode == 0, result.stderr
    alerted = {json.loads(r.body)["title"] for r in receiver.requests_to("/hook")}
    positives = {x.item.title for x in corpus if x.positive}
    precision = len(alerted & positives) / len(alerted)
    recall = len(alerted & positives) / len(positives)
    assert precision >= MIN_PRECISION, sorted(alerted - positives)
    assert recall >= MIN_RECALL, sorted(positives - alerted)
    payloads = [json.loads(r.body) for r in receiver.requests_to("/hook")]
    assert all(p["severity"] == "warning" and p["matched"] for p in payloads)
