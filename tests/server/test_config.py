"""Settings: flags > environment > TOML file > defaults, validated with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ConfigError, load_settings


def test_precedence(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(
        'port = 1000\nhost = "0.0.0.0"\nlog_level = "debug"\nturn_urls = ["turn:a"]\nturn_secret = "s"\n'
    )
    s = load_settings(
        {"port": 3000}, env={"CONFIDANT_PORT": "2000", "CONFIDANT_HOST": "::1"}, config_file=toml
    )
    assert (s.port, s.host, s.log_level, s.turn_urls) == (3000, "::1", "debug", ("turn:a",))
    s = load_settings({}, env={"CONFIDANT_PORT": "2000"}, config_file=toml)
    assert s.port == 2000
    s = load_settings({}, env={})
    assert (s.port, s.envelope_ttl_seconds, s.token_ttl_seconds, s.invitation_ttl_seconds) == (
        8080,
        30 * 24 * 3600,
        3600,
        7 * 24 * 3600,
    )


@pytest.mark.parametrize(
    "flags, env, message",
    [
        ({"port": 70000}, {}, "port must be between"),
        ({}, {"CONFIDANT_PORT": "eighty"}, "CONFIDANT_PORT"),
        ({"log_level": "loud"}, {}, "log_level must be one of"),
        ({}, {"CONFIDANT_TOKEN_TTL_SECONDS": "0"}, "token_ttl_seconds must be a positive"),
        ({}, {"CONFIDANT_PUBLIC_URL": "ftp://x"}, "public_url"),
        ({}, {"CONFIDANT_MONGODB_URI": "postgres://localhost"}, "mongodb_uri must be a MongoDB"),
        ({}, {"CONFIDANT_REDIS_URL": "http://localhost"}, "redis_url must be a Redis URL"),
        ({}, {"CONFIDANT_TURN_URLS": "turn:x"}, "turn_secret"),
        ({}, {"CONFIDANT_TURN_SECRET": "s"}, "turn_secret is set but turn_urls are not"),
        ({"turn_urls": ["https://turn.example.org"], "turn_secret": "s"}, {}, "turn_urls must be TURN URLs"),
        ({"turn_urls": ["turn:host:99999"], "turn_secret": "s"}, {}, "turn_urls must be TURN URLs"),
        ({"turn_urls": ["turn:host?transport=sctp"], "turn_secret": "s"}, {}, "turn_urls must be TURN URLs"),
        ({}, {"CONFIDANT_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, "trusted_proxies must be IP"),
        ({"trusted_proxies": ["10.0.0.1/8"]}, {}, "trusted_proxies must be IP"),
        ({"web_root": "/nonexistent/dir"}, {}, "web_root"),
    ],
)
def test_invalid_settings_are_explained(flags: dict[str, object], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(flags, env=env)


def test_bad_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, env={}, config_file=bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({}, env={}, config_file=unknown)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, env={}, config_file=tmp_path / "missing.toml")


def test_turn_and_proxy_lists_follow_the_same_precedence(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('turn_urls = ["turn:toml:3478"]\nturn_secret = "t"\ntrusted_proxies = ["10.0.0.0/8"]\n')
    env = {
        "CONFIDANT_TURN_URLS": "turn:env:3478?transport=udp, turns:env:5349?transport=tcp",
        "CONFIDANT_TRUSTED_PROXIES": "192.168.0.0/16,::1",
    }
    s = load_settings({}, env=env, config_file=toml)
    assert s.turn_urls == ("turn:env:3478?transport=udp", "turns:env:5349?transport=tcp")
    assert (s.turn_secret, s.trusted_proxies) == ("t", ("192.168.0.0/16", "::1"))
    # A list given on the command line replaces the others (it is not merged with them).
    s = load_settings(
        {"turn_urls": ["turn:[2001:db8::1]:3478"], "turn_secret": "f", "trusted_proxies": ["127.0.0.1"]},
        env=env,
        config_file=toml,
    )
    assert s.turn_urls == ("turn:[2001:db8::1]:3478",)
    assert (s.turn_secret, s.trusted_proxies) == ("f", ("127.0.0.1",))
    assert "turn_secret" not in repr(s) and "'f'" not in repr(s)  # the secret never reaches a log line


def test_metrics_listener_and_request_log_settings() -> None:
    s = load_settings({}, env={})
    assert (s.metrics_host, s.metrics_port, s.log_requests) == ("127.0.0.1", 9464, False)
    s = load_settings({}, env={"CONFIDANT_METRICS_PORT": "9100", "CONFIDANT_LOG_REQUESTS": "true"})
    assert (s.metrics_port, s.log_requests) == (9100, True)
    with pytest.raises(ConfigError, match="log_requests"):
        load_settings({}, env={"CONFIDANT_LOG_REQUESTS": "sometimes"})
    with pytest.raises(ConfigError, match="metrics_port must be between"):
        load_settings({"metrics_port": 70000}, env={})
