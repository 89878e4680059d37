"""The client address behind trusted reverse proxies (``--trusted-proxy``), for per-IP rate limits.

``X-Forwarded-For`` is believed only when the direct peer is a trusted proxy: anyone else can write any
address into it. Each proxy appends the address it received the request from, so the list is read from the
right, skipping trusted hops; the first untrusted address is the client. Everything to its left was written
by that client and is ignored. Without trusted proxies (the default) the peer address is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import web

__all__ = ["TRUSTED_PROXIES_KEY", "TrustedProxies"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> IPAddress | None:
    """An address as proxies write it: bare, ``[v6]``, ``v4:port`` or ``[v6]:port``; None if malformed."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return address


class TrustedProxies:
    def __init__(self, networks: Sequence[IPNetwork] = ()) -> None:
        self._networks = tuple(networks)

    @classmethod
    def parse(cls, cidrs: Iterable[str]) -> TrustedProxies:
        """From validated settings (``server.config`` rejects malformed ranges at start)."""
        return cls([ipaddress.ip_network(c) for c in cidrs])

    def trusts(self, address: IPAddress) -> bool:
        return any(address in network for network in self._networks)

    def client_ip(self, peer: str | None, forwarded_for: Sequence[str]) -> str:
        """``peer``: the direct peer; ``forwarded_for``: every X-Forwarded-For header, in order."""
        peer_address = _address(peer) if peer else None
        if peer_address is None:
            return peer or "unknown"
        if not self.trusts(peer_address):
            return str(peer_address)
        hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
        nearest = peer_address  # the closest hop known to be trusted
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                # A malformed entry the trusted hop to its right passed on: the client cannot be told
                # apart, so the requests count against that hop.
                return str(nearest)
            if not self.trusts(address):
                return str(address)
            nearest = address
        return str(nearest)  # every hop is trusted: the left-most one is the origin

    def of(self, request: web.Request) -> str:
        if not self._networks:
            return request.remote or "unknown"
        return self.client_ip(request.remote, request.headers.getall("X-Forwarded-For", []))


TRUSTED_PROXIES_KEY: web.AppKey[TrustedProxies] = web.AppKey("confidant_trusted_proxies", TrustedProxies)
