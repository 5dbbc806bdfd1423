"""What every channel promises, and how the channels of monitor.yaml become notifiers.

A channel module registers a factory under the word users write in YAML (``slack:``, ``email:``),
so adding a kind of channel touches that module and the schema, not this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TextIO, TypeVar

from pydantic import BaseModel

from monitor.config.schema import CHANNEL_KINDS as SCHEMA_CHANNEL_KINDS
from monitor.config.schema import Settings
from monitor.fetch.politeness import HostLimiter
from monitor.model import Alert, Digest
from monitor.notify.templates import NO_TEMPLATES, Templates

if TYPE_CHECKING:
    import httpx


class Notifier(Protocol):
    name: str

    async def send(self, alert: Alert) -> None:
        """Return only once the channel has accepted ``alert``.

        Raise ``DeliveryError`` otherwise; ``retryable`` tells the outbox whether to try again.
        """
        ...

    async def send_digest(self, digest: Digest) -> None:
        """Like ``send``, for several alerts as one message (channels with ``group_wait``)."""
        ...

    async def aclose(self) -> None:
        """Release what the notifier owns; shared resources (the HTTP client) stay open."""
        ...


#: Slack accepts about one message a second per incoming webhook; faster ones get 429s
SLACK_SPACING = 1.0


def slack_pacing() -> HostLimiter:
    """One message at a time per webhook URL, a second apart."""
    return HostLimiter(concurrency=1, spacing=SLACK_SPACING)


@dataclass(frozen=True, kw_only=True)
class Resources:
    """What a factory may draw on besides its own channel config."""

    settings: Settings
    #: the shared HTTP client of the channels that post, made when the first of them is built
    http: Callable[[], httpx.AsyncClient]
    #: the console channel's stream; ``None`` means whatever ``sys.stdout`` is at send time
    stdout: TextIO | None = None
    #: the user's message templates; empty means the built-in ones
    templates: Templates = NO_TEMPLATES
    #: Slack's per-webhook rate limit, shared by every Slack channel of the config
    slack_pacing: HostLimiter = field(
        default_factory=lambda: HostLimiter(concurrency=1, spacing=1.0)
    )


#: factory(name, channel config model, resources) -> Notifier, keyed by the YAML word
CHANNEL_KINDS: dict[str, Callable[..., Notifier]] = {}

_Factory = TypeVar("_Factory", bound=Callable[..., Notifier])


def register(kind: str) -> Callable[[_Factory], _Factory]:
    """Make ``factory`` the builder for channels written as ``kind:`` in monitor.yaml."""

    def decorate(factory: _Factory) -> _Factory:
        if kind in CHANNEL_KINDS:
            raise ValueError(f"channel kind {kind!r} is registered twice")
        CHANNEL_KINDS[kind] = factory
        return factory

    return decorate


def channel_kind(config: BaseModel) -> str:
    """The YAML word of a channel config model: the one kind field it has."""
    fields = type(config).model_fields
    return next(kind for kind in SCHEMA_CHANNEL_KINDS if kind in fields)


def build_channels(
    settings: Settings,
    *,
    http: httpx.AsyncClient | Callable[[], httpx.AsyncClient],
    stdout: TextIO | None = None,
    templates: Templates = NO_TEMPLATES,
) -> dict[str, Notifier]:
    """One notifier per ``settings.channels`` entry, under the same name.

    ``http`` is the client of the channels that post, or what makes it on demand.
    """
    client = http if callable(http) else (lambda: http)
    resources = Resources(settings=settings, http=client, stdout=stdout, templates=templates)
    notifiers: dict[str, Notifier] = {}
    for name, config in settings.channels.items():
        kind = channel_kind(config)
        factory = CHANNEL_KINDS.get(kind)
        if factory is None:
            # The schema accepts a kind no module implements: a bug here, not in the user's file.
            raise LookupError(f"no notifier is registered for channel kind {kind!r}")
        notifiers[name] = factory(name, config, resources)
    return notifiers
