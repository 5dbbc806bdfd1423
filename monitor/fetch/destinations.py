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
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

from monitor.errors import FetchError, FetchErrorKind

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
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
    source: str,
    url: str,
    *,
    allow_private: Sequence[Network] = (),
    resolver: Resolver = resolve,
) -> IPAddress:
    """The address to connect to for ``url``, once every address its host has passed the check.

    Raises ``blocked_destination`` unless ``url`` is http(s) to public (or allowed) addresses.
    The caller connects to the returned address rather than resolving the name again, so a DNS
    answer that changes between the check and the connection (rebinding) cannot slip through.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        raise FetchError(
            source, FetchErrorKind.BLOCKED_DESTINATION, f"refused to fetch {url!r}: not http(s)"
        )
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        addresses = await resolver(parts.hostname, port)
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
    if not addresses:
        raise FetchError(source, FetchErrorKind.NETWORK, f"{parts.hostname} has no address")
    return addresses[0]


def pinned_url(url: str, address: IPAddress) -> tuple[str, str]:
    """``url`` with its host replaced by ``address``, and the ``Host`` header it must carry."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    literal = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), host
