"""The ``monitor`` command: argument handling and output only; the work lives elsewhere."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor import __version__
from monitor.cli_delivery import alerts, silence
from monitor.cli_support import ReportedError, config_path, freeze_startup_objects, with_store
from monitor.cli_support import load_from_context as _load
from monitor.errors import ConfigError, MonitorError
from monitor.forkserver import pass_workers, start_early, start_for_many_feeds
from monitor.logs import setup_logging
from monitor.quick_exit import exit_code, leave

if TYPE_CHECKING:
    from monitor.config.schema import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    type=click.Path(dir_okay=False),
    help="Config file (default: $MONITOR_CONFIG, else ./monitor.yaml).",
)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v, -vv).")
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int) -> None:
    """Watch news feeds and pages, match items against rules, send alerts."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    setup_logging(verbose)


@cli.command()
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Check monitor.yaml and every rule file; print path:line:col: message per problem."""
    from monitor.config import load_rules, load_settings, load_templates_of, resolve_rules_dir

    path = config_path(ctx)
    problems = []
    rules_count = 0
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
        settings = None
    if settings is not None:
        try:
            rules_dir = resolve_rules_dir(path, settings)
            rules_count = len(load_rules(rules_dir, set(settings.channels)))
        except ConfigError as exc:
            problems.extend(exc.problems)
        try:
            load_templates_of(path, settings)
        except ConfigError as exc:
            problems.extend(exc.problems)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        raise ReportedError(f"{len(problems)} problem(s) found")
    assert settings is not None
    click.echo(
        f"ok: {path}: {len(settings.sources)} sources, {len(settings.channels)} channels, "
        f"{rules_count} rules"
    )


@cli.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Poll every source once, match, deliver, then exit."""

    # before the config's own modules are imported, so that the forkserver's imports overlap them
    start_for_many_feeds(config_path(ctx))

    def start_forkserver(settings: Settings) -> None:
        # its imports then overlap this process's reading of the rules and its own imports
        if pass_workers(settings):
            start_early()

    config = _load(ctx, on_settings=start_forkserver)

    from monitor.service import check_once, instance_lock

    freeze_startup_objects()
    try:
        with instance_lock(config):
            outcomes, report = asyncio.run(check_once(config, stdout=sys.stdout))
    except MonitorError as exc:
        raise ReportedError(str(exc)) from exc
    failed = 0
    for outcome in outcomes:
        if outcome.status == "error":
            failed += 1
            click.echo(f"{outcome.source}: error: {outcome.error}")
            continue
        line = f"{outcome.source}: {outcome.status}"
        if outcome.status == "ok":
            line += f", {outcome.items} items, {outcome.new_items} new, {outcome.alerts} alerts"
        if outcome.warning:
            line += f" (warning: {outcome.warning})"
        click.echo(line)
    click.echo(
        f"checked {len(outcomes)} sources ({failed} failed); "
        f"delivered {report.sent}, retrying {report.retrying}, dead {report.dead}"
    )


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: poll each source on its schedule until SIGTERM or SIGINT."""
    from monitor.daemon import Daemon
    from monitor.service import instance_lock

    config = _load(ctx)
    freeze_startup_objects()
    try:
        with instance_lock(config):
            asyncio.run(Daemon(config, stdout=sys.stdout).run())
    except KeyboardInterrupt:
        # Interrupted during start-up, before the daemon's own signal handlers were installed.
        pass
    except MonitorError as exc:
        raise ReportedError(str(exc)) from exc


@cli.command()
@click.pass_context
def sources(ctx: click.Context) -> None:
    """Show each source's health: last success, failures, items in the last day, next poll."""
    from datetime import UTC, datetime, timedelta

    from monitor.health import render_table, source_health

    config = _load(ctx)
    now = datetime.now(UTC)
    states, recent = with_store(
        config,
        lambda store: (store.all_source_states(), store.items_seen_since(now - timedelta(days=1))),
    )
    click.echo(render_table(source_health(config.settings, states, recent, now), now))


@cli.command("test-source")
@click.argument("name")
@click.option(
    "--fulltext/--no-fulltext",
    default=None,
    help="Fetch each item's article too (default: as the source is configured).",
)
@click.pass_context
def test_source(ctx: click.Context, name: str, fulltext: bool | None) -> None:
    """Show what a source yields now: its items, their fields and warnings. Stores nothing."""
    from monitor.source_preview import preview_source, render_preview

    config = _load(ctx)
    source = next((s for s in config.settings.sources if s.name == name), None)
    if source is None:
        known = ", ".join(s.name for s in config.settings.sources) or "none"
        raise ReportedError(f"no source named {name!r} (sources: {known})")
    if fulltext is None:
        fulltext = config.settings.fulltext(source) is not False
    try:
        preview = asyncio.run(preview_source(config.settings, source, fulltext=fulltext))
    except MonitorError as exc:
        raise ReportedError(str(exc)) from exc
    click.echo(render_preview(preview))


@cli.command("test-rule")
@click.argument("name")
@click.option("--text", help="Match the rule against this text: first line headline, then summary.")
@click.option(
    "--file",
    "file_",
    type=click.Path(exists=True, dir_okay=False),
    help="A feed, an HTML page or a text file.",
)
@click.option("--url", help="Fetch a feed or page and match every item in it.")
@click.option(
    "--history",
    metavar="DURATION",
    help="Replay the rule over the items stored in this past period (30d, 12h) and compare "
    "with the alerts it sent.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item.")
@click.pass_context
def test_rule(
    ctx: click.Context,
    name: str,
    text: str | None,
    file_: str | None,
    url: str | None,
    history: str | None,
    as_json: bool,
) -> None:
    """Explain a rule against a text, a file, a URL or the stored items: which match, and why."""
    from monitor.explain import explain_items, items_from_file, items_from_text, items_from_url

    config = _load(ctx)
    rule = next((r for r in config.rules if r.name == name), None)
    if rule is None:
        known = ", ".join(r.name for r in config.rules) or "none"
        raise ReportedError(f"no rule named {name!r} (rules: {known})")
    if sum(x is not None for x in (text, file_, url, history)) != 1:
        raise click.UsageError("give exactly one of --text, --file, --url or --history")
    if history is not None:
        _replay_history(config, rule, history, as_json)
        return
    try:
        if text is not None:
            items = items_from_text(text)
        elif file_ is not None:
            items = items_from_file(Path(file_))
        else:
            assert url is not None
            items = asyncio.run(items_from_url(url))
    except MonitorError as exc:
        raise ReportedError(str(exc)) from exc
    results = explain_items(rule, items)
    matched = 0
    for result in results:
        matched += result.matched
        if as_json:
            click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        else:
            click.echo(result.render())
    if not as_json:
        click.echo(f"{matched} of {len(results)} items match {name}")


def _replay_history(config: Any, rule: Any, period: str, as_json: bool) -> None:
    """Matches and changes only: the thousands of stored items that still do not match are noise."""
    from datetime import UTC, datetime

    from monitor.config.schema import parse_duration
    from monitor.explain import replay

    try:
        since = datetime.now(UTC) - parse_duration(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--history") from exc
    history = with_store(config, lambda store: store.items_with_alerts(since=since, rule=rule.name))
    results = replay(rule, history)
    for result in results:
        if not (result.matched or result.change):
            continue
        if as_json:
            click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        else:
            click.echo(f"[{result.item.source}] {result.render()}")
    if not as_json:
        matched = sum(r.matched for r in results)
        added = sum(r.change == "added" for r in results)
        dropped = sum(r.change == "dropped" for r in results)
        click.echo(
            f"{len(results)} items stored in the last {period}: {matched} match {rule.name}; "
            f"compared with the alerts it sent, {added} added and {dropped} dropped"
        )


cli.add_command(alerts)
cli.add_command(silence)


def main() -> None:
    try:
        cli(prog_name="monitor")
    except SystemExit as exc:
        code = exit_code(exc)
        leave(code)
        raise SystemExit(code) from None
