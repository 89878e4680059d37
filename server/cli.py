"""``confidant``: serve the relay, and operator commands (bootstrap the first admin, invite therapists)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from server.app import bootstrap_if_empty, build_app
from server.config import ConfigError, Settings, load_settings
from server.logging import configure_logging
from server.operations import run_verify_audit
from server.probe import add_probe_parser, run_probe
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
    serve.add_argument("--redis-url", help="share presence, limits and live push with other nodes (Redis)")
    serve.add_argument(
        "--web-root", help="built web client to serve at / (default: web-client/dist if present)"
    )
    serve.add_argument("--envelope-ttl-seconds", type=int, help="undelivered envelopes expire after this")
    serve.add_argument("--token-ttl-seconds", type=int, help="bearer token lifetime (default: 3600)")
    serve.add_argument("--invitation-ttl-seconds", type=int, help="default invitation lifetime (7 days)")
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
    add_probe_parser(commands)
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
        )
    }
    return load_settings(flags, config_file=args.config)


async def _serve(settings: Settings) -> None:
    built = build_app(settings)
    runner = web.AppRunner(built.app, access_log=None)
    await runner.setup()
    try:
        # Before listening: once /readyz answers, start-up (including this write) is over.
        invitation = await bootstrap_if_empty(built.ctx)
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        if invitation is not None:
            # stdout, never the log: the code is a credential and is shown exactly once.
            print("No accounts yet. Open this one-time link to create the first admin account:", flush=True)
            print(settings.invitation_url(invitation.code), flush=True)
        log.info("serving", extra={"url": site.name})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


async def _operator_invite(settings: Settings, role: Role, ttl_seconds: int | None) -> str:
    built = build_app(settings)
    try:
        created = await built.ctx.services.invitations.create_by_operator(role, ttl_seconds)
    finally:
        await built.ctx.broker.close()
        await built.ctx.storage.close()
    return settings.invitation_url(created.code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "probe":  # a client of a running relay: no server settings
        return run_probe(args)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"confidant: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        if args.command == "serve":
            asyncio.run(_serve(settings))
        elif args.admin_command == "verify-audit":
            return run_verify_audit(settings)
        elif args.admin_command == "bootstrap":
            print(asyncio.run(_operator_invite(settings, Role.ADMIN, None)))
        else:
            print(asyncio.run(_operator_invite(settings, Role(args.role), args.ttl_seconds)))
    except StorageUnavailable as exc:
        print(f"confidant: storage unavailable: {exc}", file=sys.stderr)
        return 1
    except ProtocolVersionRefused as exc:
        print(f"confidant: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
