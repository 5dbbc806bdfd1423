"""Alert channels: one pure renderer (``render``) and a thin transport per kind of channel."""

from monitor.notify import console, email, slack, webhook
from monitor.notify.base import CHANNEL_KINDS, Notifier, Resources, build_channels, register
from monitor.notify.console import ConsoleNotifier
from monitor.notify.email import EmailNotifier
from monitor.notify.slack import SlackNotifier
from monitor.notify.webhook import WebhookNotifier

__all__ = [
    "CHANNEL_KINDS",
    "ConsoleNotifier",
    "EmailNotifier",
    "Notifier",
    "Resources",
    "SlackNotifier",
    "WebhookNotifier",
    "build_channels",
    "console",
    "email",
    "register",
    "slack",
    "webhook",
]
