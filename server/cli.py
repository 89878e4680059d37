"""``confidant``: serve the relay, and operator commands (bootstrap the first admin, invite therapists)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from server import limits
from server.app import bootstrap_if_empty, build_app
from server.config import ConfigError, Settings, load_settings
from server.custodian_cli import add_custodian_parser, export_document, run_offline
from server.http.metrics_listener import build_metrics_app
from server.http.protocol import EdgeRunner
from server.logging import configure_logging
from server.probe import add_probe_parser, run_probe
from server.verify_web import add_verify_web_parser, run_verify_web
from storage.errors import ProtocolVersionRefused, StorageUnavailable
from storage.records import Role

__all__ = ["main"]

log = logging.getLogger(__name__)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML file with settings (flags and CONFIDANT_* env win)")
    parser.add_argument("--data-dir", help="directory of the SQLite database (default: ./data)")
    parser.add_argument(
        "--public-url", help="URL users reach, used in invitation links (default: http://HOST:PORT)"
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="default: info")
    parser.add_argument(
        "--log-requests",
        action="store_const",
        const=True,
        help="log one line per HTTP request at info level (default: only at debug level)",
    )
    parser.add_argument("--mongodb-uri", help="store data in MongoDB (a replica set) instead of SQLite")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="confidant",
        description="Confidant: an end-to-end encrypted messaging relay for therapy that cannot read.",
        epilog="Every setting can also come from the environment (CONFIDANT_PORT, CONFIDANT_DATA_DIR, ...) "
        "or a TOML file given with --config.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the relay (HTTP API, socket.io, web client)",
        description="Run the relay. On an empty database, prints a one-time admin invitation link to stdout.",
    )
    _common(serve)
    serve.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default: 8080; 0 picks a free one)")
    serve.add_argument(
        "--metrics-host", help="address of the separate /metrics listener (default: 127.0.0.1)"
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        help="port of the /metrics listener (default: 9464; 0 picks a free one); never the public port",
    )
    serve.add_argument("--redis-url", help="share presence, limits and live push with other nodes (Redis)")
    serve.add_argument(
        "--web-root", help="built web client to serve at / (default: web-client/dist if present)"
    )
    serve.add_argument("--envelope-ttl-seconds", type=int, help="undelivered envelopes expire after this")
    serve.add_argument("--token-ttl-seconds", type=int, help="bearer token lifetime (default: 3600)")
    serve.add_argument("--invitation-ttl-seconds", type=int, help="default invitation lifetime (7 days)")
    serve.add_argument(
        "--max-attachment-bytes", type=int, help="largest file a user may send (default: 100 MiB)"
    )
    serve.add_argument(
        "--attachment-quota-bytes", type=int, help="file bytes one account may hold at once (default: 1 GiB)"
    )
    serve.add_argument(
        "--turn-url",
        dest="turn_urls",
        action="append",
        metavar="URL",
        help="TURN server for video sessions, e.g. turn:turn.example.org:3478?transport=udp or "
        "turns:turn.example.org:5349?transport=tcp (repeat for several; needs --turn-secret)",
    )
    serve.add_argument(
        "--turn-secret",
        metavar="SECRET",
        help="coturn's static-auth-secret, to mint TURN credentials (prefer CONFIDANT_TURN_SECRET: "
        "command lines are visible to other local users)",
    )
    serve.add_argument(
        "--trusted-proxy",
        dest="trusted_proxies",
        action="append",
        metavar="CIDR",
        help="reverse proxy address or range (e.g. 10.0.0.0/8) whose X-Forwarded-For gives the client "
        "address for per-IP rate limits (repeat for several; default: none, the peer address is used)",
    )

    admin = commands.add_parser("admin", help="operator commands on the local database")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True, metavar="ADMIN_COMMAND")
    bootstrap = admin_commands.add_parser(
        "bootstrap", help="print a one-time invitation link for the first admin (revokes earlier ones)"
    )
    _common(bootstrap)
    invite = admin_commands.add_parser("invite", help="print a one-time invitation link for a therapist")
    _common(invite)
    invite.add_argument("--role", choices=["therapist"], default="therapist", help="role of the invitee")
    invite.add_argument("--ttl-seconds", type=int, help="lifetime of the invitation (default: 7 days)")
    verify_audit = admin_commands.add_parser(
        "verify-audit", help="verify the audit log's hash chain; exit 1 naming the first broken entry"
    )
    _common(verify_audit)
    add_custodian_parser(commands, _common)
    add_probe_parser(commands)
    add_verify_web_parser(commands)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    flags: dict[str, Any] = {
        name: getattr(args, name, None)
        for name in (
            "host",
            "port",
            "data_dir",
            "log_level",
            "public_url",
            "web_root",
            "envelope_ttl_seconds",
            "token_ttl_seconds",
            "invitation_ttl_seconds",
            "mongodb_uri",
            "redis_url",
            "turn_urls",
            "turn_secret",
            "trusted_proxies",
            "metrics_host",
            "metrics_port",
            "log_requests",
            "max_attachment_bytes",
            "attachment_quota_bytes",
        )
    }
    return load_settings(flags, config_file=args.config)


class ListenError(Exception):
    """A listener could not be opened (address in use, not permitted)."""


async def _listen(runner: web.BaseRunner, host: str, port: int, what: str) -> str:
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port} for {what}: {exc.strerror or exc}") from None
    bound = runner.addresses[-1]
    return f"http://{host}:{bound[1]}"


def _framed(lines: Sequence[str]) -> str:
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


async def _serve(settings: Settings) -> None:
    built = build_app(settings)
    # The public listener answers even parser-level refusals with the API's error JSON (EdgeRunner);
    # on SIGTERM in-flight HTTP requests get a bounded time (the socket drain is server.shutdown).
    runner = EdgeRunner(built.app, access_log=None, shutdown_timeout=limits.SHUTDOWN_HTTP_SECONDS)
    metrics_runner = web.AppRunner(
        build_metrics_app(built.ctx), access_log=None, shutdown_timeout=limits.SHUTDOWN_HTTP_SECONDS
    )
    await runner.setup()
    await metrics_runner.setup()
    try:
        # Before listening: once /readyz answers, start-up (including this write) is over.
        invitation = await bootstrap_if_empty(built.ctx)
        metrics_url = await _listen(metrics_runner, settings.metrics_host, settings.metrics_port, "/metrics")
        url = await _listen(runner, settings.host, settings.port, "the API")
        log.info("serving", extra={"url": url, "metrics_url": metrics_url + "/metrics"})
        print(f"Confidant is serving {url} (metrics for Prometheus: {metrics_url}/metrics). "
              "Ctrl-C stops it.", flush=True)
        if invitation is not None:
            # stdout, never the log, and last: the code is a credential shown exactly once.
            lines = [
                "No accounts yet. Open this one-time link to create the first admin account:",
                settings.invitation_url(invitation.code),
            ]
            print(_framed(lines), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down: no new connections; connected devices are told to reconnect")
    finally:
        started = time.monotonic()
        await runner.cleanup()
        await metrics_runner.cleanup()
        log.info("stopped", extra={"duration_ms": round((time.monotonic() - started) * 1000, 1)})


async def _operator_invite(settings: Settings, role: Role, ttl_seconds: int | None) -> str:
    built = build_app(settings)
    try:
        created = await built.ctx.services.invitations.create_by_operator(role, ttl_seconds)
    finally:
        await built.ctx.broker.close()
        await built.ctx.storage.close()
    return settings.invitation_url(created.code)


async def _verify_audit(settings: Settings) -> int:
    """``confidant admin verify-audit``: walk the local audit chain, print one line, exit 1 if broken."""
    built = build_app(settings)
    try:
        report = await built.ctx.ops.audit.verify()
    finally:
        await built.ctx.broker.close()
        await built.ctx.storage.close()
    print(report.verdict())
    return 0 if report.ok else 1


async def _custodian_export(settings: Settings, account_id: str, out: Path) -> int:
    built = build_app(settings)
    try:
        copies = await built.ctx.services.custodian.copies_of(account_id)
    finally:
        await built.ctx.broker.close()
        await built.ctx.storage.close()
    out.write_text(json.dumps(export_document(account_id, copies), indent=1) + "\n")
    print(f"{len(copies)} custodian copies of {account_id} written to {out} (still sealed)")
    return 0


async def _custodian_purge(settings: Settings, account_id: str) -> int:
    built = build_app(settings)
    try:
        deleted = await built.ctx.services.custodian.purge(account_id)
    finally:
        await built.ctx.broker.close()
        await built.ctx.storage.close()
    print(f"{deleted} custodian copies of {account_id} deleted")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "probe":  # a client of a running relay: no server settings
        return run_probe(args)
    if args.command == "verify-web":  # likewise
        return run_verify_web(args)
    if args.command == "custodian" and args.custodian_command in ("keygen", "open"):  # offline
        return run_offline(args)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"confidant: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, log_requests=settings.log_requests)
    try:
        if args.command == "serve":
            asyncio.run(_serve(settings))
        elif args.command == "custodian":
            if not re.fullmatch("[0-9a-f]{32}", args.account):
                print("confidant: --account must be 32 lowercase hex characters", file=sys.stderr)
                return 2
            if args.custodian_command == "export":
                return asyncio.run(_custodian_export(settings, args.account, args.out))
            return asyncio.run(_custodian_purge(settings, args.account))
        elif args.admin_command == "verify-audit":
            return asyncio.run(_verify_audit(settings))
        elif args.admin_command == "bootstrap":
            print(asyncio.run(_operator_invite(settings, Role.ADMIN, None)))
        else:
            print(asyncio.run(_operator_invite(settings, Role(args.role), args.ttl_seconds)))
    except StorageUnavailable as exc:
        print(f"confidant: storage unavailable: {exc}", file=sys.stderr)
        return 1
    except (ProtocolVersionRefused, ListenError) as exc:
        print(f"confidant: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
