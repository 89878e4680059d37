"""Settings: command-line flags > environment (``CONFIDANT_*``) > TOML file (``--config``) > defaults.

Validated once at start; every problem is reported in one clear sentence naming the setting.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ConfigError", "Settings", "load_settings"]

LOG_LEVELS = ("debug", "info", "warning", "error")
_REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A setting is missing, malformed or not supported yet."""


def _default_web_root() -> Path | None:
    dist = _REPO_ROOT / "web-client" / "dist"
    return dist if dist.is_dir() else None


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    log_level: str = "info"
    public_url: str = ""  # empty: http://<host>:<port>
    envelope_ttl_seconds: int = 30 * 24 * 3600
    token_ttl_seconds: int = 3600
    invitation_ttl_seconds: int = 7 * 24 * 3600
    redis_url: str | None = None
    mongodb_uri: str | None = None
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = field(default=None, repr=False)
    trusted_proxies: tuple[str, ...] = ()  # CIDRs of reverse proxies whose X-Forwarded-For is believed
    web_root: Path | None = field(default_factory=_default_web_root)
    metrics_interval_seconds: int = 10  # backlog / session counts / dependency checks for /metrics
    # /metrics has its own listener, never the public one: live counts are traffic analysis material.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464  # 0 picks a free one
    log_requests: bool = False  # one info line per HTTP request (otherwise only at debug level)
    # The key that seals every account's audit pseudonym key, kept OUTSIDE the database (server/audit_key.py);
    # None: <data_dir>/audit-pseudonym.key, created on first start. Several nodes must share one file.
    audit_key_file: Path | None = None
    # Retention (docs/STORAGE.md "Retention"), enforced by the sweeper.
    sends_retention_seconds: int = 6 * 3600  # idempotency records: a retry comes within minutes
    attendance_retention_days: int = 6 * 365  # the therapist's record that a session took place
    audit_retention_days: int = 6 * 365  # the practice's legal duty (default 6 years)
    max_attachment_bytes: int = 100 * 1024 * 1024  # one attachment's plaintext (the blob adds 17 B / 64 KiB)
    attachment_quota_bytes: int = 1024 * 1024 * 1024  # blobs one account may hold at once (until fetched)

    @property
    def audit_key_path(self) -> Path:
        default = self.data_dir / "audit-pseudonym.key"
        return self.audit_key_file if self.audit_key_file is not None else default

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def invitation_url(self, code: str) -> str:
        return f"{self.base_url}/#/join/{code}"


_INT_FIELDS = {
    "port",
    "envelope_ttl_seconds",
    "token_ttl_seconds",
    "invitation_ttl_seconds",
    "metrics_interval_seconds",
    "metrics_port",
    "sends_retention_seconds",
    "attendance_retention_days",
    "audit_retention_days",
    "max_attachment_bytes",
    "attachment_quota_bytes",
}
_BOOL_FIELDS = {"log_requests"}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")
_PATH_FIELDS = {"data_dir", "web_root", "audit_key_file"}
_LIST_FIELDS = {"turn_urls": "URLs", "trusted_proxies": "CIDR ranges"}
_NAMES = tuple(f.name for f in fields(Settings))


def _coerce(name: str, value: Any, source: str) -> Any:
    if value is None:
        return None
    if name in _INT_FIELDS:
        if isinstance(value, bool):
            raise ConfigError(f"{name} ({source}) must be an integer, not {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} ({source}) must be an integer, not {value!r}") from None
    if name in _BOOL_FIELDS:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError(f"{name} ({source}) must be true or false, not {value!r}")
    if name in _PATH_FIELDS:
        return Path(str(value)) if str(value) else None
    if name in _LIST_FIELDS:
        if isinstance(value, str):
            return tuple(u.strip() for u in value.split(",") if u.strip())
        if isinstance(value, (list, tuple)) and all(isinstance(u, str) for u in value):
            return tuple(u.strip() for u in value if u.strip())
        kind = _LIST_FIELDS[name]
        raise ConfigError(f"{name} ({source}) must be a list of {kind} or a comma-separated string")
    if not isinstance(value, str):
        raise ConfigError(f"{name} ({source}) must be a string, not {value!r}")
    return value


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge the sources (flags win) and validate. Raises ConfigError with a readable sentence."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_file} is not valid TOML: {exc}") from None
        unknown = sorted(set(data) - set(_NAMES))
        if unknown:
            raise ConfigError(f"config file {config_file}: unknown setting(s) {', '.join(unknown)}")
        for name, value in data.items():
            values[name] = _coerce(name, value, f"config file {config_file}")
    for name in _NAMES:
        raw = env.get(f"CONFIDANT_{name.upper()}")
        if raw is not None:
            values[name] = _coerce(name, raw, f"CONFIDANT_{name.upper()}")
    for name, value in (flags or {}).items():
        if value is not None:
            values[name] = _coerce(name, value, f"--{name.replace('_', '-')}")
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if not 0 <= s.port <= 65535:
        raise ConfigError(f"port must be between 0 and 65535, not {s.port}")
    if not 0 <= s.metrics_port <= 65535:
        raise ConfigError(f"metrics_port must be between 0 and 65535, not {s.metrics_port}")
    if s.metrics_port != 0 and s.metrics_port == s.port and s.metrics_host == s.host:
        raise ConfigError("metrics_port must differ from port: /metrics is never on the public listener")
    if s.log_level not in LOG_LEVELS:
        raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}, not {s.log_level!r}")
    for name in (
        "envelope_ttl_seconds",
        "token_ttl_seconds",
        "invitation_ttl_seconds",
        "metrics_interval_seconds",
        "sends_retention_seconds",
        "attendance_retention_days",
    "audit_retention_days",
    ):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name} must be a positive number of seconds")
    for name in ("max_attachment_bytes", "attachment_quota_bytes"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name} must be a positive number of bytes")
    if s.public_url:
        parts = urlsplit(s.public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"public_url must be an http(s) URL like https://confidant.example, not {s.public_url!r}"
            )
    if s.mongodb_uri and urlsplit(s.mongodb_uri).scheme not in ("mongodb", "mongodb+srv"):
        raise ConfigError(
            "mongodb_uri must be a MongoDB connection string like mongodb://host:27017/confidant"
        )
    if s.redis_url and urlsplit(s.redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("redis_url must be a Redis URL like redis://host:6379/0")
    if s.web_root is not None and not s.web_root.is_dir():
        raise ConfigError(f"web_root {s.web_root} is not a directory")
    for url in s.turn_urls:
        if not _is_turn_url(url):
            raise ConfigError(
                f"turn_urls must be TURN URLs like turn:turn.example.org:3478?transport=udp or "
                f"turns:turn.example.org:5349?transport=tcp, not {url!r}"
            )
    if s.turn_urls and not s.turn_secret:
        raise ConfigError("turn_urls are set but turn_secret is not: TURN credentials cannot be minted")
    if s.turn_secret and not s.turn_urls:
        raise ConfigError("turn_secret is set but turn_urls are not: clients would get no TURN server")
    for cidr in s.trusted_proxies:
        try:
            ipaddress.ip_network(cidr)
        except ValueError:
            raise ConfigError(
                f"trusted_proxies must be IP addresses or CIDR ranges like 10.0.0.0/8, not {cidr!r}"
            ) from None


def _is_turn_url(url: str) -> bool:
    """``turn:`` / ``turns:`` + host[:port] (RFC 7065), optionally ``?transport=udp|tcp``."""
    scheme, _, rest = url.partition(":")
    target, _, query = rest.partition("?")
    if scheme not in ("turn", "turns") or not target or "/" in target or "@" in target:
        return False
    try:
        parts = urlsplit("//" + target)
        port = parts.port  # ValueError when not a number in range
    except ValueError:
        return False
    if not parts.hostname or (port is not None and port == 0):
        return False
    return query in ("", "transport=udp", "transport=tcp")
