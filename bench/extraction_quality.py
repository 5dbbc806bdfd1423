"""Word-level precision, recall and F1 of article extraction on the fixture pages.

    .venv/bin/python bench/extraction_quality.py

The pages (tests/fixtures/articles/) were written for this project in the structure of real news
sites: navigation, cookie banners, related stories, comments, AMP, JSON-LD, ``<br>`` paragraphs,
windows-1252 and ISO-8859-1. Each is scored against the article text it holds. When trafilatura
is installed (``pip install trafilatura``; it is not a dependency) it is scored on the same pages
in the same run, for comparison.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import yaml

from monitor.sources.article import extract_article

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "tests" / "fixtures" / "articles"


def words(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def scores(extracted: str, expected: str) -> tuple[float, float, float]:
    got, want = words(extracted), words(expected)
    overlap = sum((got & want).values())
    precision = overlap / sum(got.values()) if got else 0.0
    recall = overlap / sum(want.values()) if want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def ours(body: bytes, url: str, content_type: str) -> str:
    return extract_article(body, url=url, content_type=content_type).text


def trafilatura_extractor() -> Callable[[bytes, str, str], str] | None:
    try:
        import trafilatura  # type: ignore[import-not-found]
    except ImportError:
        return None

    def extract(body: bytes, url: str, content_type: str) -> str:
        # comments off: the article text is what is measured here
        return trafilatura.extract(body, url=url, include_comments=False) or ""

    return extract


def measure(extract: Callable[[bytes, str, str], str]) -> list[tuple[str, float, float, float]]:
    results = []
    for page in yaml.safe_load((PAGES / "pages.yaml").read_text()):
        body = (PAGES / page["page"]).read_bytes()
        expected = (PAGES / page["text"]).read_text(encoding="utf-8")
        url = f"https://news.example.org/{page['page']}"
        results.append((page["page"], *scores(extract(body, url, page["content_type"]), expected)))
    return results


def main() -> None:
    extractors: list[tuple[str, Callable[[bytes, str, str], str]]] = [("monitor", ours)]
    other = trafilatura_extractor()
    if other is not None:
        extractors.append(("trafilatura", other))
    for name, extract in extractors:
        started = time.perf_counter()
        results = measure(extract)
        seconds = time.perf_counter() - started
        print(f"{name}: {len(results)} pages in {seconds:.2f} s")
        for page, precision, recall, f1 in results:
            print(f"  {page:45} P {precision:.2f}  R {recall:.2f}  F1 {f1:.2f}")
        mean = sum(r[3] for r in results) / len(results)
        worst = min(r[3] for r in results)
        print(f"  mean F1 {mean:.3f}, lowest {worst:.3f} (target: mean >= 0.90)")
    if other is None:
        print("trafilatura is not installed: pip install trafilatura to compare")


if __name__ == "__main__":
    main()
