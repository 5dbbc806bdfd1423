"""`monitor alerts` and `monitor silence`: what was delivered, and what is muted."""

from __future__ import annotations

import json

import click

from monitor.cli_support import ReportedError, load_from_context, with_store


@click.group(invoke_without_command=True)
@click.option(
    "--status",
    type=click.Choice(["pending", "sent", "dead", "silenced"]),
    help="Only deliveries in this state.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per delivery.")
@click.pass_context
def alerts(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """List recent alerts' deliveries, newest first: sent, pending (with the last error), dead."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import UTC, datetime

    from monitor.alerts_view import delivery_dict, render_deliveries

    rows = with_store(
        load_from_context(ctx), lambda store: store.deliveries(status=status, limit=limit)
    )
    if as_json:
        for row in rows:
            click.echo(json.dumps(delivery_dict(row), ensure_ascii=False))
    else:
        click.echo(render_deliveries(rows, datetime.now(UTC)))


@alerts.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.pass_context
def alerts_retry(ctx: click.Context, ids: tuple[int, ...]) -> None:
    """Send dead-lettered deliveries again (all of them, or the IDs given) on the next sweep."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    count = with_store(
        load_from_context(ctx),
        lambda store: store.retry_dead(at=now, delivery_ids=list(ids) if ids else None),
    )
    click.echo(
        f"{count} dead deliveries queued again; `monitor check` or the running daemon sends them"
    )


@click.group()
def silence() -> None:
    """Mute alerts for a while without editing rules; muted matches are still recorded."""


@silence.command("add")
@click.option("--rule", help="The rule to mute (default: every rule).")
@click.option("--match", "match", required=True, help="A term the alert's text must hold.")
@click.option("--for", "duration", required=True, metavar="DURATION", help="7d, 12h, 30m.")
@click.option("--comment", default="", help="Why, for whoever reads `monitor silence list`.")
@click.pass_context
def silence_add(
    ctx: click.Context, rule: str | None, match: str, duration: str, comment: str
) -> None:
    """Mute the alerts of a rule whose headline, summary, source or link holds a term."""
    from datetime import UTC, datetime

    from monitor.config.schema import parse_duration
    from monitor.silences import match_pattern

    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--for") from exc
    try:
        match_pattern(match)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--match") from exc
    config = load_from_context(ctx)
    if rule is not None and rule not in {r.name for r in config.rules}:
        known = ", ".join(r.name for r in config.rules) or "none"
        raise click.BadParameter(f"no rule named {rule!r} (rules: {known})", param_hint="--rule")
    now = datetime.now(UTC)
    added = with_store(
        config,
        lambda store: store.add_silence(
            rule=rule, match=match, comment=comment, at=now, ends_at=now + length
        ),
    )
    click.echo(f"silence #{added.id} added {added.summary()}")


@silence.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also the silences that have ended.")
@click.pass_context
def silence_list(ctx: click.Context, show_all: bool) -> None:
    """The silences in force (or all of them), newest first."""
    from datetime import UTC, datetime

    from monitor.tables import relative_time, render_columns

    now = datetime.now(UTC)
    found = with_store(
        load_from_context(ctx), lambda store: store.silences(active_at=None if show_all else now)
    )
    if not found:
        click.echo("no silences")
        return
    click.echo(
        render_columns(
            ("ID", "RULE", "MATCH", "ENDS", "COMMENT"),
            [
                (
                    str(s.id),
                    s.rule or "(every rule)",
                    s.match,
                    relative_time(s.ends_at, now),
                    s.comment,
                )
                for s in found
            ],
        )
    )


@silence.command("expire")
@click.argument("silence_id", type=int)
@click.pass_context
def silence_expire(ctx: click.Context, silence_id: int) -> None:
    """End a silence now."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    if not with_store(
        load_from_context(ctx), lambda store: store.expire_silence(silence_id, at=now)
    ):
        raise ReportedError(f"no silence #{silence_id} in force")
    click.echo(f"silence #{silence_id} expired")
