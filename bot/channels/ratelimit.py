"""Rate limits for the HTTP API: per web session, per client address, and for new sessions.

Built on `limits` (moving windows in memory, one process). A request is let through only
when every limit that applies to it has room; then it counts against all of them (a refused
request counts against none, so a client that waits as told gets through).

    limiter = RateLimits.parse(settings.bot_rate_session, settings.bot_rate_address,
                               settings.bot_rate_new_session)
    wait = limiter.check(session=..., address=..., new_session=...)
    if wait: return 429 with Retry-After: ceil(wait)

Which address counts: the TCP peer, except that a loopback peer is a reverse proxy on the
same host (or the operator's own tools): its `X-Forwarded-For` (the last hop, which the
proxy wrote) is the client, and without that header the request has no address limit. The
per-session limit applies to every request that names a well-formed session (the caller
decides; a made-up one still counts against its address).
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


def client_address(peer: str | None, forwarded_for: str | None) -> str | None:
    """The address a per-address limit counts against, or None (no address limit)."""
    if not peer:
        return None
    try:
        loopback = ipaddress.ip_address(peer.split("%", 1)[0]).is_loopback
    except ValueError:  # a unix socket path or something odd: treat as local
        loopback = True
    if not loopback:
        return peer
    last = (forwarded_for or "").split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(last)) if last else None
    except ValueError:
        return None


@dataclass
class RateLimits:
    """The limits of one process (strings in `limits` notation, "20/10 seconds;120/minute")."""

    session: list[RateLimitItem]
    address: list[RateLimitItem]
    new_session: list[RateLimitItem]

    def __post_init__(self) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def parse(cls, session: str, address: str, new_session: str) -> RateLimits:
        return cls(_items(session), _items(address), _items(new_session))

    def check(self, *, session: str | None, address: str | None, new_session: bool, scope: str = "chat") -> float:
        """0 when the request may go ahead (and it is counted), else the seconds to wait."""
        applies: list[tuple[RateLimitItem, tuple[str, ...]]] = []
        if session:
            applies += [(item, (scope, "s", session)) for item in self.session]
        if address:
            applies += [(item, (scope, "a", address)) for item in self.address]
            if new_session:
                applies += [(item, (scope, "n", address)) for item in self.new_session]
        wait = 0.0
        for item, ids in applies:
            if not self.limiter.test(item, *ids):
                reset = self.limiter.get_window_stats(item, *ids).reset_time
                wait = max(wait, reset - time.time(), 1.0)
        if wait:
            return wait
        for item, ids in applies:
            self.limiter.hit(item, *ids)
        return 0.0


def retry_after(wait: float) -> str:
    """The Retry-After header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))


def _items(spec: str) -> list[RateLimitItem]:
    return list(parse_many(spec)) if spec.strip() else []
