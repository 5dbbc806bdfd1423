"""`monitor test-source`: what one source yields now, without storing or alerting anything."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config.schema import FeedSource, PageSource, Settings
from monitor.fulltext import FullText
from monitor.model import Item
from monitor.service import build_fetcher
from monitor.sources.normalize import keyed
from monitor.sources.read import accept_header, read_source, source_url

PREVIEW_SUMMARY = 200


@dataclass(frozen=True)
class Preview:
    source: str
    url: str
    items: list[Item]
    warning: str | None


async def preview_source(
    settings: Settings, source: FeedSource | PageSource, *, fulltext: bool
) -> Preview:
    """Fetch and parse ``source`` as a pass would; raises FetchError when the source fails."""
    fetcher = build_fetcher(settings)
    try:
        result = await fetcher.fetch(source.name, source_url(source), accept=accept_header(source))
        parsed = await read_source(fetcher, source, result)
        items = parsed.items
        if fulltext:
            enriched = await FullText(fetcher).enrich(source.name, source_url(source), keyed(items))
            items = [entry.item for entry in enriched]
    finally:
        await fetcher.aclose()
    return Preview(source=source.name, url=result.url, items=items, warning=parsed.warning)


def render_preview(preview: Preview) -> str:
    lines = [f"source {preview.source}: {len(preview.items)} items from {preview.url}"]
    if preview.warning:
        lines.append(f"warning: {preview.warning}")
    for index, item in enumerate(preview.items, 1):
        lines.append(f"\n{index}. {item.title}")
        lines.append(f"   url: {item.url or '-'}")
        published = item.published.isoformat(timespec="minutes") if item.published else "-"
        lines.append(f"   published: {published}")
        summary = item.summary[:PREVIEW_SUMMARY] + ("…" if len(item.summary) > 200 else "")
        lines.append(f"   summary: {summary or '-'}")
        if item.content:
            lines.append(f"   content: {len(item.content.split())} words: {item.content[:120]}…")
    return "\n".join(lines)
