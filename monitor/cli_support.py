"""What every command shares: the config it loads, the store it opens, how it reports errors."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.config.schema import Settings
    from monitor.store import Store

DEFAULT_CONFIG = "monitor.yaml"
T = TypeVar("T")


class ReportedError(click.ClickException):
    """A MonitorError shown as ``Error: ...`` with exit code 1, without a traceback."""

    exit_code = 1


def config_path(ctx: click.Context) -> Path:
    given = ctx.obj.get("config") or os.environ.get("MONITOR_CONFIG") or DEFAULT_CONFIG
    return Path(given)


def load_from_context(
    ctx: click.Context, *, on_settings: Callable[[Settings], None] | None = None
) -> Config:
    # imported here: the config's modules (pydantic) are a fifth of a start, and `check` starts
    # its forkserver first (forkserver.start_for_many_feeds)
    from monitor.config import load_config

    try:
        return load_config(config_path(ctx), on_settings=on_settings, cached=True)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise ReportedError(f"{len(exc.problems)} problem(s) in the configuration") from exc


def freeze_startup_objects() -> None:
    """Keep what start-up made (modules, config, rules) out of the collector's later work.

    A pass over many feeds triggers full collections, and each one walked every object of
    SQLAlchemy, pydantic, aiohttp and the rules again: a twentieth of the monitor's own CPU.
    Nearly all of them live as long as the process. One that is dropped later is still freed
    by its reference count; only a cycle among such objects (the daemon's old rules after a
    reload, if they held one) would stay.
    """
    gc.freeze()


def with_store(config: Config, action: Callable[[Store], T]) -> T:
    """Run ``action`` on the config's store, opened for it and closed after."""
    from monitor.store import Store

    try:
        store = Store.open(config.settings.state, base_dir=config.base_dir)
        try:
            return action(store)
        finally:
            store.close()
    except MonitorError as exc:
        raise ReportedError(str(exc)) from exc
