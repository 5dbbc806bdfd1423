"""The one way the monitor starts processes: from a forkserver that imported it once.

Forking the monitor itself would copy threads' locks in whatever state they are; a forkserver
is a clean, single-threaded process, and with the parsers, rules and store imported in advance
each process it starts is ready in milliseconds.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import re
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.config.schema import Settings


#: what the forkserver imports before it starts any process
PRELOAD = ("monitor.worker_preload",)


def context() -> ForkServerContext:
    forkserver = multiprocessing.get_context("forkserver")
    # Takes effect when the forkserver starts, with the first process. The parsers are imported
    # where used (the monitor's own process may never parse): here they are imported once, for
    # every worker. Workers read feeds only, so bs4 (pages, articles) is not among them.
    forkserver.set_forkserver_preload(list(PRELOAD))
    return forkserver


#: feed sources from which a pass parses in worker processes by default
POOL_MIN_SOURCES = 50


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pool_size(configured: int | None, feed_sources: int) -> int:
    """Worker processes for a pass: the configured count, else one per core for many feeds."""
    if configured is not None:
        return configured
    return usable_cores() if feed_sources >= POOL_MIN_SOURCES else 0


def pass_workers(settings: Settings) -> int:
    """Worker processes a pass over ``settings``' sources uses."""
    from monitor.config.schema import FeedSource

    feeds = sum(isinstance(source, FeedSource) for source in settings.sources)
    return pool_size(settings.defaults.parse_workers, feeds)


def start_early() -> None:
    """Start the forkserver now, so its imports run while this process does its own."""
    context()
    multiprocessing.forkserver.ensure_running()


#: a feed source's key as a config writes it, in a flow mapping or a block
_FEED_KEY = re.compile(rb"(?:^|[\s{,])feed:\s")
_NO_WORKERS = re.compile(rb"parse_workers:\s*0\b")
#: bytes of a config looked at for the guess
_GUESS_BYTES = 4 * 1024 * 1024


def start_for_many_feeds(config: Path) -> None:
    """Start the forkserver before the settings are read when the config's text names many
    feeds: its imports then overlap this process's own and the validation of the settings.

    Only a guess from the raw text, to start early; ``pass_workers`` on the validated settings
    decides whether workers run (a wrong guess costs a forkserver's imports, or starts it later).
    """
    try:
        with config.open("rb") as handle:
            text = handle.read(_GUESS_BYTES)
    except OSError:
        return
    if names_many_feeds(text):
        start_early()


def names_many_feeds(config_text: bytes) -> bool:
    """Whether a config's text seems to name enough feeds for a pool of workers."""
    if _NO_WORKERS.search(config_text) is not None:
        return False
    return len(_FEED_KEY.findall(config_text)) >= POOL_MIN_SOURCES
