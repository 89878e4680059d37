"""Time-limited TURN credentials (the "TURN REST API" scheme coturn implements with ``use-auth-secret``).

    username   = f"{expiry_unix_seconds}:{user}"      (user: an opaque per-session id, never an account id)
    credential = base64(HMAC-SHA1(key=shared_secret, msg=username))

coturn recomputes the credential from the username with the same ``static-auth-secret`` and refuses
the allocation once ``expiry`` is in the past; the server never stores the credentials it hands out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

__all__ = ["DEFAULT_TURN_TTL_SECONDS", "TurnCredentials", "mint_turn_credentials", "turn_credential"]

# Long enough for a therapy session plus reconnects; short enough that a leaked one is soon useless.
DEFAULT_TURN_TTL_SECONDS = 2 * 3600


@dataclass(frozen=True, slots=True)
class TurnCredentials:
    urls: tuple[str, ...]
    username: str
    credential: str
    expires_at: int  # milliseconds since the epoch, like every *_at on the wire

    def to_wire(self) -> dict[str, object]:
        return {
            "urls": list(self.urls),
            "username": self.username,
            "credential": self.credential,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_wire(cls, data: dict[str, object]) -> TurnCredentials:
        urls = data["urls"]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ValueError("urls must be a list of strings")
        username, credential, expires_at = data["username"], data["credential"], data["expires_at"]
        if not (isinstance(username, str) and isinstance(credential, str) and isinstance(expires_at, int)):
            raise ValueError("malformed TURN credentials")
        return cls(tuple(urls), username, credential, expires_at)


def turn_credential(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def mint_turn_credentials(
    *,
    secret: str,
    user: str,
    urls: tuple[str, ...],
    ttl_seconds: int = DEFAULT_TURN_TTL_SECONDS,
    now: float | None = None,
) -> TurnCredentials:
    """Credentials for ``user`` valid ``ttl_seconds`` from ``now`` (seconds; default: the clock).

    A negative ``ttl_seconds`` mints already-expired credentials (tests use that to see coturn refuse them).
    """
    if not secret:
        raise ValueError("TURN secret is empty")
    if ":" in user:
        raise ValueError("the TURN user must not contain ':'")
    expiry = int(time.time() if now is None else now) + ttl_seconds
    username = f"{expiry}:{user}"
    return TurnCredentials(urls, username, turn_credential(secret, username), expiry * 1000)
