"""The typed shape of monitor.yaml: strict, frozen pydantic models; unknown keys are errors.

Durations are written as ``90s``, ``10m``, ``2h`` or ``1d`` and become ``timedelta`` here, so no
other module parses them. Strict mode keeps YAML 1.1 surprises (``no`` -> False, ``0012`` -> 12)
from being coerced silently into a string field.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from monitor.model import at_least

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, *, allow_zero: bool = False) -> timedelta:
    """``10m`` -> 10 minutes; a bare number is seconds; anything else is an error, not a default."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 10m, 2h or 1d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(
            f"invalid duration {value!r}: expected a duration such as 90s, 10m, 2h or 1d"
        )
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError("a duration must be greater than zero")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
#: a duration where 0 means "none", such as a pause that may be switched off
DurationOrZero = Annotated[timedelta, BeforeValidator(lambda v: parse_duration(v, allow_zero=True))]


def _cidr(value: Any) -> Any:
    if isinstance(value, str):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise ValueError(
                f"not an address range: {value!r} (expected e.g. 10.1.2.0/24)"
            ) from exc
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    return value


HttpUrl = Annotated[str, BeforeValidator(lambda v: _http_url(v) if isinstance(v, str) else v)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


_LOOPBACK_HOSTS = ("localhost", "::1")


class SmtpSettings(Strict):
    host: str
    port: int = 587
    #: unset: required, except for a relay on this machine (loopback), where nothing is exposed
    starttls: bool | None = None
    #: implicit TLS from the first byte (port 465); exclusive with starttls
    tls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: Duration = timedelta(seconds=30)
    #: a CA bundle for relays with a private certificate authority
    ca_file: str | None = None

    @property
    def requires_starttls(self) -> bool:
        if self.starttls is not None:
            return self.starttls
        loopback = self.host in _LOOPBACK_HOSTS or self.host.startswith("127.")
        return not (self.tls or loopback)

    @model_validator(mode="after")
    def _one_tls_mode(self) -> SmtpSettings:
        if self.tls and self.starttls:
            raise ValueError("choose either tls (implicit TLS) or starttls, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


def _css_selector(value: Any) -> Any:
    """A CSS selector with an optional ``@attribute``; compiled now so a typo fails validation."""
    if isinstance(value, str):
        css = value.partition("@")[0].strip()
        if css:
            # imported here: it costs 40 ms, and only page sources have selectors
            import soupsieve

            try:
                soupsieve.compile(css)
            except soupsieve.SelectorSyntaxError as exc:
                reason = str(exc).splitlines()[0]
                raise ValueError(f"invalid CSS selector {value!r}: {reason}") from exc
    return value


CssSelector = Annotated[str, BeforeValidator(_css_selector)]


class Selectors(Strict):
    """CSS selectors for a page source; ``link`` and ``date`` may end in ``@attribute``."""

    item: CssSelector
    title: CssSelector
    link: CssSelector = "a@href"
    summary: CssSelector | None = None
    date: CssSelector | None = None
    #: the link to the next page of the listing (``a.next@href``), followed up to ``pages``
    next: CssSelector | None = None
    pages: int = Field(default=3, ge=1, le=20)


class SourceBase(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    every: Duration | None = None
    #: on a source's first fetch: alert on what is already there, or only record it as seen
    first_fetch: Literal["alert", "baseline"] | None = None
    #: fetch each new item's article and match its text as ``content``: always, never, or
    #: ``auto`` when the summary is shorter than ``defaults.fulltext_below`` characters
    fulltext: bool | Literal["auto"] | None = None


class FeedSource(SourceBase):
    feed: HttpUrl


class PageSource(SourceBase):
    page: HttpUrl
    #: without selectors, the page's own feed is used when it links one, else its headline links
    select: Selectors | None = None


# monitor.model.SEVERITIES, spelled out for pydantic
Severity = Literal["info", "warning", "critical"]


class ChannelBase(Strict):
    """What every channel can say about the alerts it takes and how it bundles them."""

    #: alerts of rules below this severity are not sent here
    min_severity: Severity = "info"
    #: hold a first alert this long so the ones that follow go with it as one digest; 0s sends
    #: each alert alone. Unset: 30s for email, 0s for the others
    group_wait: DurationOrZero | None = None
    #: after a digest, the next one waits at least this long
    group_interval: Duration = timedelta(minutes=5)

    def grouping(self) -> timedelta:
        if self.group_wait is not None:
            return self.group_wait
        return DEFAULT_EMAIL_GROUP_WAIT if isinstance(self, EmailChannel) else timedelta(0)

    def accepts(self, severity: str) -> bool:
        return at_least(severity, self.min_severity)


DEFAULT_EMAIL_GROUP_WAIT = timedelta(seconds=30)


class SlackChannel(ChannelBase):
    slack: HttpUrl


class EmailAddresses(Strict):
    to: list[str] = Field(min_length=1)
    from_: str = Field(alias="from")

    @field_validator("to", "from_")
    @classmethod
    def _no_header_breaks(cls, value: Any) -> Any:
        values = value if isinstance(value, list) else [value]
        for address in values:
            if "\r" in address or "\n" in address or "@" not in address:
                raise ValueError(f"invalid email address {address!r}")
        return value


class EmailChannel(ChannelBase):
    email: EmailAddresses


class WebhookChannel(ChannelBase):
    webhook: HttpUrl
    secret: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class ConsoleOptions(Strict):
    format: Literal["text", "json"] = "text"


class ConsoleChannel(ChannelBase):
    console: Annotated[
        ConsoleOptions,
        BeforeValidator(lambda v: {} if v is True or v is None else v),
    ] = ConsoleOptions()


CHANNEL_KINDS = ("slack", "email", "webhook", "console")


def _channel_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return next(k for k in CHANNEL_KINDS if hasattr(value, k))
    if isinstance(value, dict):
        kinds = [k for k in CHANNEL_KINDS if k in value]
        return kinds[0] if len(kinds) == 1 else None
    return None


Channel = Annotated[
    Annotated[SlackChannel, Tag("slack")]
    | Annotated[EmailChannel, Tag("email")]
    | Annotated[WebhookChannel, Tag("webhook")]
    | Annotated[ConsoleChannel, Tag("console")],
    Discriminator(
        _channel_kind,
        custom_error_type="channel_kind",
        custom_error_message="a channel needs exactly one of: " + ", ".join(CHANNEL_KINDS),
    ),
]


def _source_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return "feed" if hasattr(value, "feed") else "page"
    if isinstance(value, dict):
        kinds = [k for k in ("feed", "page") if k in value]
        return kinds[0] if len(kinds) == 1 else None
    return None


Source = Annotated[
    Annotated[FeedSource, Tag("feed")] | Annotated[PageSource, Tag("page")],
    Discriminator(
        _source_kind,
        custom_error_type="source_kind",
        custom_error_message="a source needs exactly one of: feed, page",
    ),
]


class Defaults(Strict):
    every: Duration = timedelta(minutes=10)
    first_fetch: Literal["alert", "baseline"] = "alert"
    #: total deadline of one request, from connect to the last byte
    timeout: Duration = timedelta(seconds=30)
    #: cap on the decoded body of one response, in bytes
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    #: requests in flight at once, over all sources
    concurrency: int = Field(default=20, gt=0)
    #: requests in flight at once to one host (scheme, name and port)
    host_concurrency: int = Field(default=2, gt=0)
    #: pause between the starts of two requests to one host; 0s for none
    host_spacing: DurationOrZero = timedelta(seconds=1)
    #: a delivery still failing after this long, or this many tries, is dead-lettered
    delivery_max_age: Duration = timedelta(hours=24)
    delivery_max_attempts: int = Field(default=20, gt=0)
    #: a story alerted again under another URL, feed or wording within this long is recorded,
    #: not sent; 0s alerts every telling
    repeat_interval: DurationOrZero = timedelta(days=1)
    #: how long ``monitor check`` keeps retrying deliveries before leaving them to the next pass
    delivery_budget: Duration = timedelta(seconds=60)
    fulltext: bool | Literal["auto"] = False
    #: with ``fulltext: auto``, a summary shorter than this many characters fetches the article
    fulltext_below: int = Field(default=300, ge=0)
    #: private ranges (CIDR) that redirects and links found in content may reach anyway
    allow_private: list[Annotated[str, BeforeValidator(_cidr)]] = Field(default_factory=list)
    #: processes that parse feeds and match items; unset: one per core with 50 feeds or more,
    #: 0: all in the monitor's own process
    parse_workers: int | None = Field(default=None, ge=0)


class HealthSettings(Strict):
    """When a source's trouble is worth an alert of its own, and where it goes."""

    #: channels told when a source fails or goes silent, and again when it recovers
    notify: list[str] = Field(default_factory=list)
    #: a source failing without a break for this long is announced
    failing_after: Duration = timedelta(hours=1)
    #: a source with no new item for this many times its usual gap between items is silent...
    silent_factor: float = Field(default=10.0, gt=1)
    #: ...but never before this long without one
    silent_after: Duration = timedelta(days=2)


class Settings(Strict):
    state: str = "state/monitor.db"
    rules: str = "rules/"
    #: a folder of message templates overriding the built-in ones (see monitor.notify.templates)
    templates: str | None = None
    smtp: SmtpSettings | None = None
    defaults: Defaults = Defaults()
    health: HealthSettings = HealthSettings()
    sources: list[Source] = Field(default_factory=list)
    channels: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Channel] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _unique_source_names(self) -> Settings:
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"duplicate source name {source.name!r}")
            seen.add(source.name)
        if "all" in self.channels:
            raise ValueError("'all' is reserved (a rule's notify: all means every channel)")
        if self.smtp is None and any(isinstance(c, EmailChannel) for c in self.channels.values()):
            raise ValueError("an email channel needs the smtp: settings")
        return self

    def every(self, source: FeedSource | PageSource) -> timedelta:
        return source.every or self.defaults.every

    def first_fetch(self, source: FeedSource | PageSource) -> str:
        return source.first_fetch or self.defaults.first_fetch

    def fulltext(self, source: FeedSource | PageSource) -> bool | Literal["auto"]:
        return self.defaults.fulltext if source.fulltext is None else source.fulltext
