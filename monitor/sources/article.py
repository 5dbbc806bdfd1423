"""An article page -> its main text (pure): what ``fulltext`` matches as an item's ``content``.

Tried in order: the ``articleBody`` a publisher declares in JSON-LD (exact, when present); the
element marked as the article (``<article>``, ``itemprop=articleBody``, ``<main>``); the block
with the most paragraph text. Navigation, scripts, banners, share bars, comments and related-story
lists are removed first, by tag, role and class or id words.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup, Tag

from monitor.sources.normalize import clean_text
from monitor.sources.text import TEXT_LIMIT, parse_html

_NOISE_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
)
_NOISE_WORDS = re.compile(
    r"cookie|consent|banner|share|social|newsletter|related|recommend|comment|promo|advert"
    r"|subscribe|paywall|breadcrumb|sidebar|menu|footer|header|popup|modal|outbrain|taboola",
    re.IGNORECASE,
)
_ARTICLE_TYPES = {"article", "newsarticle", "reportagenewsarticle", "blogposting", "report"}
_BLOCK_TAGS = ("p", "h2", "h3", "h4", "li", "blockquote", "pre")
#: pages larger than this are cut before parsing: an article is never that long
MAX_HTML = 4 * 1024 * 1024


@dataclass(frozen=True)
class Article:
    text: str
    title: str = ""
    method: str = "none"


def _decode(body: bytes, content_type: str | None) -> str:
    charset = None
    if content_type:
        found = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
        charset = found.group(1) if found else None
    if charset is None:
        declared = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", body[:4096], re.IGNORECASE)
        charset = declared.group(1).decode("ascii", "replace") if declared else None
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return body.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("cp1252", errors="replace")


def _json_ld_bodies(soup: BeautifulSoup) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            kinds = node.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            body = node.get("articleBody")
            if isinstance(body, str) and {str(k).lower() for k in kinds} & _ARTICLE_TYPES:
                found.append(body)
            for key in ("@graph", "mainEntity", "mainEntityOfPage"):
                walk(node.get(key))

    for script in soup.find_all("script", type="application/ld+json"):
        try:
            walk(json.loads(script.get_text()))
        except ValueError:
            continue
    return found


def _paragraphs(container: Tag) -> str:
    # <br> separated text becomes paragraphs too
    for br in container.find_all("br"):
        br.replace_with("\n")
    blocks = container.find_all(_BLOCK_TAGS)
    if not blocks:
        lines = [clean_text(line, TEXT_LIMIT) for line in container.get_text().split("\n")]
        return "\n\n".join(line for line in lines if line)
    texts = []
    for block in blocks:
        if block.find_parent(_BLOCK_TAGS) is not None:
            continue  # its text is already in the enclosing block
        for chunk in block.get_text(" ").split("\n"):
            text = clean_text(chunk, TEXT_LIMIT)
            if text:
                texts.append(text)
    return "\n\n".join(texts)


def _strip_noise(soup: BeautifulSoup) -> None:
    for node in soup(_NOISE_TAGS):
        node.decompose()
    for node in soup.find_all(True):
        if node.decomposed or node.name in ("html", "body", "article", "main"):
            continue
        marks = " ".join([str(node.get("id") or ""), *(node.get("class") or [])])
        role = str(node.get("role") or "")
        if role in ("navigation", "banner", "contentinfo", "complementary", "dialog") or (
            marks and _NOISE_WORDS.search(marks)
        ):
            node.decompose()


def _densest(soup: BeautifulSoup) -> Tag | None:
    best, best_score = None, 0
    for candidate in soup.find_all(["div", "section", "td"]):
        score = sum(len(p.get_text()) for p in candidate.find_all("p", recursive=False))
        if score > best_score:
            best, best_score = candidate, score
    return best


def extract_article(body: bytes, *, url: str, content_type: str | None = None) -> Article:
    """The main text of an article page; empty text for anything that is not one."""
    if not body.strip():
        return Article(text="")
    soup = parse_html(_decode(body[:MAX_HTML], content_type))
    if soup is None:
        return Article(text="")
    heading = soup.find("h1") or soup.find("title")
    title = clean_text(heading.get_text(" "), 1000) if heading else ""
    bodies = _json_ld_bodies(soup)
    if bodies:
        text = max(bodies, key=len)
        paragraphs = [clean_text(p, TEXT_LIMIT) for p in re.split(r"\n\s*\n|\r\n", text)]
        return Article("\n\n".join(p for p in paragraphs if p), title, "json-ld")
    _strip_noise(soup)
    marked = soup.find(itemprop="articleBody") or soup.find("article") or soup.find("main")
    if isinstance(marked, Tag):
        text = _paragraphs(marked)
        if text:
            return Article(text, title, "marked")
    densest = _densest(soup)
    if densest is not None:
        return Article(_paragraphs(densest), title, "density")
    body_tag = soup.find("body")
    return Article(_paragraphs(body_tag) if isinstance(body_tag, Tag) else "", title, "body")
