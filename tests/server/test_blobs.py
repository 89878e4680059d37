"""Attachment blobs over HTTP: streamed upload, size limit, quota, who may download, Range, deletion after
fetch and after the TTL (driven clock), interrupted uploads leave nothing, the uploader withdraws its own.
The real app, a real SQLite file and real files in the data directory."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from client.api import ApiClient
from client.errors import ApiError
from crypto.attachments import encrypted_size
from server.app import build_app
from server.config import Settings
from server.errors import BadRequest
from tests.fixtures.ports import free_port
from tests.server._kit import API, Device, Http, eventually_async
from tests.server.conftest import FakeClock, Server

MAX_PLAIN = 300_000
QUOTA = 700_000


@pytest.fixture
async def server(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Server]:
    """The conftest server with a small attachment limit and quota, so that the limits are cheap to reach."""
    port = free_port()
    settings = Settings(
        host="127.0.0.1",
        port=port,
        data_dir=tmp_path / "data",
        web_root=None,
        max_attachment_bytes=MAX_PLAIN,
        attachment_quota_bytes=QUOTA,
    )
    built = build_app(settings, clock=clock)
    built.ctx.background.clear()
    for rule in ("redeem_per_ip", "challenge_per_ip", "token_per_ip"):
        built.ctx.services.limiter.rules[rule] = (100_000, 60.0)
    runner = web.AppRunner(built.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{port}"
        try:
            yield Server(url, built.ctx, clock, Http(url, session), tmp_path / "data")
        finally:
            await runner.cleanup()


async def _upload(srv: Server, dev: Device, to: str, data: bytes) -> tuple[int, dict[str, object]]:
    async with srv.http.session.post(
        f"{srv.url}{API}/blobs",
        params={"to": to},
        data=data,
        headers={"Authorization": f"Bearer {dev.token}", "Content-Type": "application/octet-stream"},
    ) as resp:
        return resp.status, await resp.json()


async def _download(
    srv: Server, dev: Device, blob_id: str, rng: str | None = None
) -> tuple[int, bytes, object]:
    headers = {"Authorization": f"Bearer {dev.token}"}
    if rng:
        headers["Range"] = rng
    async with srv.http.session.get(f"{srv.url}{API}/blobs/{blob_id}", headers=headers) as resp:
        return resp.status, await resp.read(), resp.headers


def _files(srv: Server) -> list[Path]:
    return [p for p in (srv.data_dir / "blobs").rglob("*") if p.is_file()]


async def _usage(dev: Device) -> int:
    r = await dev.call("GET", f"{API}/blobs/usage")
    assert r.status == 200, r.body
    used: int = r.body["used_bytes"]
    return used


async def test_the_client_downloads_what_the_therapist_uploaded_whole_and_by_range(server: Server) -> None:
    therapist, client = await server.pair()
    data = os.urandom(250_000)
    status, body = await _upload(server, therapist, client.account_id, data)
    assert status == 201, body
    blob_id = str(body["blob_id"])
    assert body["size"] == len(data) and len(blob_id) == 32
    assert [p.read_bytes() for p in _files(server)] == [data]  # stored as sent: opaque ciphertext

    status, got, headers = await _download(server, client, blob_id)
    assert status == 200 and got == data
    status, got, headers = await _download(server, client, blob_id, "bytes=100000-")
    assert status == 206 and got == data[100_000:]
    assert headers["Content-Range"] == f"bytes 100000-{len(data) - 1}/{len(data)}"  # type: ignore[index]
    status, got, _ = await _download(server, client, blob_id, "bytes=10-19")
    assert status == 206 and got == data[10:20]
    status, got, _ = await _download(server, client, blob_id, "bytes=-5")
    assert status == 206 and got == data[-5:]
    status, got, _ = await _download(server, client, blob_id, f"bytes={len(data)}-")
    assert status == 416
    status, got, _ = await _download(server, therapist, blob_id)  # the uploader's own account too
    assert status == 200 and got == data


async def test_only_the_conversation_may_download(server: Server) -> None:
    therapist, client = await server.pair()
    other_client = await server.client(therapist)  # linked to the uploader's therapist, not to this file
    stranger, _ = await server.pair()
    admin = await server.admin()
    status, body = await _upload(server, client, therapist.account_id, os.urandom(1000))
    assert status == 201
    for outsider in (other_client, stranger, admin):
        status, got, _ = await _download(server, outsider, str(body["blob_id"]))
        assert status == 404 and b"not_found" in got
        r = await outsider.call("POST", f"{API}/blobs/{body['blob_id']}/fetched")
        assert r.status == 404
    status, body = await _upload(server, stranger, client.account_id, os.urandom(1000))
    assert status == 403 and body["error"]["code"] == "not_linked"  # type: ignore[index]


async def test_size_limit_and_quota_refuse_before_storing_anything(server: Server) -> None:
    therapist, client = await server.pair()
    limit = encrypted_size(MAX_PLAIN)
    status, body = await _upload(server, therapist, client.account_id, os.urandom(limit + 1))
    assert status == 413 and body["error"]["code"] == "payload_too_large"  # type: ignore[index]
    assert body["error"]["details"]["limit"] == limit  # type: ignore[index]
    assert _files(server) == [] and await _usage(therapist) == 0

    for _ in range(2):
        status, body = await _upload(server, therapist, client.account_id, os.urandom(limit))
        assert status == 201, body
    status, body = await _upload(server, therapist, client.account_id, os.urandom(limit))
    assert status == 413 and body["error"]["code"] == "quota_exceeded"  # type: ignore[index]
    assert await _usage(therapist) == 2 * limit and len(_files(server)) == 2
    r = await therapist.call("GET", f"{API}/blobs/usage")
    assert r.body == {"used_bytes": 2 * limit, "quota_bytes": QUOTA, "max_blob_bytes": limit}


async def _raw_upload(
    server: Server, uploader: Device, to: str, declared: int, sent: int
) -> asyncio.StreamWriter:
    """An upload over a bare socket that declares `declared` bytes and has sent `sent` of them so far."""
    host, port = server.url.removeprefix("http://").split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST {API}/blobs?to={to} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {uploader.token}\r\nContent-Length: {declared}\r\n\r\n"
    )
    writer.write(head.encode() + os.urandom(sent))
    await writer.drain()
    return writer


async def test_an_upload_cut_midway_leaves_nothing(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    therapist, client = await server.pair()
    writer = await _raw_upload(server, therapist, client.account_id, 200_000, 120_000)
    await eventually_async(lambda: _usage(therapist), 200_000)  # reserved: the upload is under way
    writer.close()  # the client goes away mid-body
    await writer.wait_closed()
    await eventually_async(lambda: _usage(therapist), 0)
    assert _files(server) == []
    assert "unhandled error" not in caplog.text, "a client going away is not a server error"


async def test_deleted_once_every_addressed_device_confirmed_the_fetch(server: Server) -> None:
    therapist, client = await server.pair()
    second = await server.add_device(client)
    therapist_phone = await server.add_device(therapist)
    status, body = await _upload(server, therapist, client.account_id, os.urandom(5000))
    blob_id = str(body["blob_id"])
    for dev in (client, second):
        r = await dev.call("POST", f"{API}/blobs/{blob_id}/fetched")
        assert r.status == 200 and r.body == {"deleted": False}
    assert len(_files(server)) == 1
    r = await therapist_phone.call("POST", f"{API}/blobs/{blob_id}/fetched")  # the sender's other device
    assert r.body == {"deleted": True}
    assert _files(server) == [] and await _usage(therapist) == 0
    status, _, _ = await _download(server, client, blob_id)
    assert status == 404


async def test_expired_after_the_envelope_ttl(server: Server) -> None:
    therapist, client = await server.pair()
    _, body = await _upload(server, client, therapist.account_id, os.urandom(5000))
    server.clock.advance(server.ctx.settings.envelope_ttl_seconds - 1)
    await therapist.login()  # a month later: a fresh token
    await client.login()
    assert (await _download(server, therapist, str(body["blob_id"])))[0] == 200
    assert await server.ctx.services.blobs.sweep() == 0
    server.clock.advance(2)
    assert (await _download(server, therapist, str(body["blob_id"])))[0] == 404  # expired reads as gone
    assert await server.ctx.services.blobs.sweep() == 1
    assert _files(server) == [] and await _usage(client) == 0


async def test_bad_uploads_are_clear_refusals(server: Server) -> None:
    therapist, client = await server.pair()
    auth = {"Authorization": f"Bearer {therapist.token}"}

    async def chunked() -> AsyncIterator[bytes]:
        yield b"x" * 100

    async with server.http.session.post(
        f"{server.url}{API}/blobs", params={"to": client.account_id}, data=chunked(), headers=auth
    ) as resp:
        assert resp.status == 400 and (await resp.json())["error"]["details"]["header"] == "Content-Length"
    for to in ("", "nothex", client.account_id.upper()):
        async with server.http.session.post(
            f"{server.url}{API}/blobs", params={"to": to}, data=b"x", headers=auth
        ) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_field"
    async with server.http.session.post(
        f"{server.url}{API}/blobs", params={"to": client.account_id}, data=b"x"
    ) as resp:
        assert resp.status == 401
    assert _files(server) == [] and await _usage(therapist) == 0


async def test_the_sdk_upload_call_reports_the_limits_as_api_errors(server: Server) -> None:
    therapist, client = await server.pair()
    limit = encrypted_size(MAX_PLAIN)

    async def body(n: int) -> AsyncIterator[bytes]:
        for i in range(0, n, 65536):
            yield os.urandom(min(65536, n - i))

    async with ApiClient(server.url, token=therapist.token) as api:
        with pytest.raises(ApiError) as too_large:
            await api.upload_blob(client.account_id, limit + 1, body(limit + 1))
        assert too_large.value.code == "payload_too_large"
        for _ in range(2):
            await api.upload_blob(client.account_id, limit, body(limit))
        with pytest.raises(ApiError) as full:
            await api.upload_blob(client.account_id, limit, body(limit))
        assert full.value.code == "quota_exceeded" and full.value.details["quota_bytes"] == QUOTA


async def test_the_uploader_withdraws_its_blob_and_no_one_else_can(server: Server) -> None:
    therapist, client = await server.pair()
    stranger, _ = await server.pair()
    therapist_phone = await server.add_device(therapist)
    status, body = await _upload(server, therapist, client.account_id, os.urandom(5000))
    assert status == 201
    blob_id = str(body["blob_id"])
    unknown = os.urandom(16).hex()
    for outsider, target in ((client, blob_id), (stranger, blob_id), (therapist, unknown)):
        r = await outsider.call("DELETE", f"{API}/blobs/{target}")
        assert r.status == 404 and r.body["error"]["code"] == "not_found"  # one answer: ids cannot be probed
    assert len(_files(server)) == 1 and await _usage(therapist) == 5000
    r = await therapist_phone.call("DELETE", f"{API}/blobs/{blob_id}")  # any device of the uploading account
    assert r.status == 204
    assert _files(server) == [] and await _usage(therapist) == 0
    assert (await _download(server, client, blob_id))[0] == 404
    assert (await therapist.call("DELETE", f"{API}/blobs/{blob_id}")).status == 404


async def test_the_sdk_withdraws_a_blob_it_uploaded(server: Server) -> None:
    therapist, client = await server.pair()
    async with ApiClient(server.url, token=therapist.token) as api:

        async def body() -> AsyncIterator[bytes]:
            yield os.urandom(4000)

        uploaded = await api.upload_blob(client.account_id, 4000, body())
        assert (await api.blob_usage())["used_bytes"] == 4000
        await api.delete_blob(str(uploaded["blob_id"]))
        assert (await api.blob_usage())["used_bytes"] == 0 and _files(server) == []
        with pytest.raises(ApiError) as gone:
            await api.delete_blob(str(uploaded["blob_id"]))
        assert gone.value.code == "not_found"


async def test_an_upload_whose_client_left_after_the_last_byte_is_not_kept(server: Server) -> None:
    # A Cancel that came too late to cut the body: the client closed the connection, so it can never learn
    # the blob's id. (Driven at the service: over a socket, whether the close or the commit comes first is
    # a race the service cannot be made to lose on purpose.)
    therapist, client = await server.pair()
    caller = await server.ctx.services.auth.authenticate(therapist.token)

    async def body() -> AsyncIterator[bytes]:
        yield os.urandom(3000)

    with pytest.raises(BadRequest):
        await server.ctx.services.blobs.upload(caller, client.account_id, 3000, body(), lambda: True)
    assert _files(server) == [] and await _usage(therapist) == 0
    kept = await server.ctx.services.blobs.upload(caller, client.account_id, 3000, body(), lambda: False)
    assert [p.name for p in _files(server)] == [kept.blob_id]


async def test_a_client_that_closes_after_its_last_byte_leaves_nothing(server: Server) -> None:
    # The last byte and the close arrive together: the body is complete, but nobody is left to learn the id.
    therapist, client = await server.pair()
    writer = await _raw_upload(server, therapist, client.account_id, 200_000, 199_999)
    await eventually_async(lambda: _usage(therapist), 200_000)
    writer.write(b"x")
    writer.close()
    await writer.wait_closed()
    await eventually_async(lambda: _usage(therapist), 0)
    assert _files(server) == []
