"""Which URLs a webhook may point at.

Only ``http`` and ``https``, with a host and without credentials in the URL. Private,
loopback, link-local and other non-public addresses are refused by default: a tenant's
webhook would otherwise make the server send requests into the network it runs in (to a
cloud metadata endpoint, an admin port on localhost). A deployment whose receivers live on
its own network, and tests with a receiver on loopback, allow them with
``allow_private`` (``TAILORED_WEBHOOKS_ALLOW_PRIVATE=1`` for the server and the CLI).

The host is resolved when a webhook is registered and again before each delivery (a name
can be pointed elsewhere after registration). The connection then resolves it once more,
so a name whose answer changes within that instant is not caught; a deployment that must
rule that out sends webhooks through an egress proxy.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import InvalidInput

SCHEMES = ("http", "https")
MAX_URL = 2048


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise InvalidInput(f"webhook host {host!r} does not resolve: {exc}") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_url(url: str, *, allow_private: bool = False) -> str:
    """``url`` if a webhook may point at it, else ``InvalidInput`` saying why.

    Raises
    ------
    InvalidInput
        Not http(s), no host, credentials in the URL, too long, or (unless
        ``allow_private``) a host that is or resolves to a non-public address.
    """
    if len(url) > MAX_URL:
        raise InvalidInput(f"webhook URL longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidInput(f"not a valid URL: {exc}") from exc
    if parts.scheme not in SCHEMES:
        raise InvalidInput(f"webhook URL must be http:// or https://, not {parts.scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise InvalidInput("webhook URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("webhook URL must not carry credentials; receivers verify the signature instead")
    if not allow_private:
        for addr in _addresses(parts.hostname, port):
            if not addr.is_global:
                raise InvalidInput(
                    f"webhook host {parts.hostname!r} is a non-public address ({addr}); allow private addresses"
                    " with TAILORED_WEBHOOKS_ALLOW_PRIVATE=1 if receivers live on this network"
                )
    return url
