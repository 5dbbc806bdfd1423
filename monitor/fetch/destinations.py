"""Which addresses a fetch may reach when the URL did not come from the operator.

A configured source may live anywhere, including a private address: the operator chose it. A URL
the monitor did not choose (a redirect to another host, later a link found in content) must not
reach this machine, the private network or a cloud metadata service. Hosts are resolved and every
address they resolve to is checked, which also catches numeric spellings such as ``2130706433``
or ``0x7f.1`` for 127.0.0.1, and IPv4 addresses mapped into IPv6.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from monitor.errors import FetchError, FetchErrorKind

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ALLOWED_SCHEMES = ("http", "https")


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # is_global is False for loopback, private, link-local (169.254/16, the metadata range),
    # carrier-grade NAT (100.64/10), unique-local (fd00::/8), reserved and unspecified ranges.
    return address.is_global and not address.is_multicast


def _allowed(address: IPAddress, allow_private: Sequence[Network]) -> bool:
    return is_public(address) or any(address in network for network in allow_private)


async def resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def check_destination(
    source: str, url: str, *, allow_private: Sequence[Network] = ()
) -> None:
    """Raise ``blocked_destination`` unless ``url`` is http(s) to public (or allowed) addresses."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        raise FetchError(
            source, FetchErrorKind.BLOCKED_DESTINATION, f"refused to fetch {url!r}: not http(s)"
        )
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        addresses = await resolve(parts.hostname, port)
    except OSError as exc:
        raise FetchError(
            source, FetchErrorKind.NETWORK, f"cannot resolve {parts.hostname}: {exc}"
        ) from exc
    blocked = [a for a in addresses if not _allowed(a, allow_private)]
    if blocked:
        raise FetchError(
            source,
            FetchErrorKind.BLOCKED_DESTINATION,
            f"refused to fetch {parts.scheme}://{parts.hostname}/: it resolves to {blocked[0]}, "
            "a private, loopback or link-local address",
        )
