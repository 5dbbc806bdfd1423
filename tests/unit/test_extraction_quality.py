"""Article extraction on the fixture pages: word-level F1 against the text each page holds."""

from __future__ import annotations

from bench.extraction_quality import measure, ours

MIN_MEAN_F1 = 0.90
MIN_PAGE_F1 = 0.85


def test_extraction_reaches_the_target_on_every_kind_of_page() -> None:
    results = measure(ours)
    assert len(results) >= 20
    mean = sum(f1 for *_, f1 in results) / len(results)
    assert mean >= MIN_MEAN_F1
    weak = [(page, round(f1, 2)) for page, _, _, f1 in results if f1 < MIN_PAGE_F1]
    assert weak == []
