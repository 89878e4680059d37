"""A property-based fuzzer for every socket.io event the server registers: random payloads of every JSON
type, field names the event really has, binary attachments (socket.io binary frames), several arguments
or none, sizes up to the frame limit. Every reply is an ack with a stable error code, never ``internal``,
and nothing is logged at error level.

Hypothesis drives synchronous examples; the relay and its socket.io client live on an event loop in a
background thread (hypothesis does not run coroutines itself)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import socketio
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import limits
from server.app import build_app
from server.config import Settings
from server.errors import ErrorCode
from server.http.protocol import EdgeRunner
from storage.records import Role
from tests.fixtures.ports import free_port
from tests.server._kit import API, Device, Http, Keys

T = TypeVar("T")
CODES = {c.value for c in ErrorCode} - {ErrorCode.INTERNAL.value}
EXAMPLES_PER_EVENT = 25


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Relay:
    """The app on a loopback port and one therapist's socket, on a loop in a background thread."""

    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-relay", daemon=True)
        self.thread.start()
        self.data_dir = data_dir
        self.events: dict[str, set[str]] = {}  # event -> its payload's field names

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        built = build_app(Settings(port=port, data_dir=self.data_dir, web_root=None))
        self.ctx = built.ctx
        for name, event in built.ctx.socket_events.items():
            fields = getattr(event.payload, "__struct_fields__", ()) if event.payload else ()
            self.events[name] = set(fields)
        self.runner = EdgeRunner(built.app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.session = aiohttp.ClientSession()
        http = Http(self.url, self.session)
        code = (await built.ctx.services.invitations.create_by_operator(Role.ADMIN)).code
        admin = await self._redeem(http, code)
        r = await admin.call("POST", f"{API}/invitations", {"role": "therapist"})
        self.therapist = await self._redeem(http, r.body["code"])
        await self.connect()

    async def _redeem(self, http: Http, code: str) -> Device:
        keys = Keys(prekeys=2)
        r = await http.call("POST", f"{API}/accounts", keys.register_body(code))
        assert r.status == 201, r.body
        device = Device(http, keys, r.body["account_id"], r.body["device_id"], r.body["role"])
        await device.login()
        return device

    async def connect(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        await self.sio.connect(
            self.url, auth={"token": self.therapist.token}, transports=["websocket"], wait_timeout=5
        )

    async def call(self, event: str, args: tuple[Any, ...], timeout: float = 10.0) -> Any:
        if not self.sio.connected:
            await self.connect()
        return await self.sio.call(event, args, timeout=timeout)

    async def stop(self) -> None:
        await self.sio.disconnect()
        await self.session.close()
        await self.runner.cleanup()


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    relay = Relay(tmp_path_factory.mktemp("fuzz") / "data")
    relay.run(relay.start())
    try:
        yield relay
    finally:
        relay.run(relay.stop())
        relay.loop.call_soon_threadsafe(relay.loop.stop)
        relay.thread.join(10)
        relay.loop.close()


@pytest.fixture
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def _values(fields: set[str]) -> st.SearchStrategy[Any]:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=64)
        | st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)  # id-shaped
        | st.binary(max_size=256)  # a socket.io binary attachment
    )
    keys = st.sampled_from(sorted(fields)) | st.text(max_size=12) if fields else st.text(max_size=12)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
        max_leaves=16,
    )


def _args(fields: set[str]) -> st.SearchStrategy[tuple[Any, ...]]:
    value = _values(fields)
    shaped = st.fixed_dictionaries({}, optional={f: value for f in sorted(fields)}) if fields else value
    return st.one_of(st.tuples(), st.tuples(shaped), st.tuples(value), st.tuples(value, value))


def _check(event: str, ack: Any) -> None:
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), (event, ack)
    if not ack["ok"]:
        error = ack["error"]
        assert error["code"] in CODES, (event, error)
        assert isinstance(error["message"], str) and error["message"]


def _fuzzer(relay: Relay, event: str, fields: set[str]) -> Any:
    @settings(
        max_examples=EXAMPLES_PER_EVENT,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(args=_args(fields))
    def fuzz(args: tuple[Any, ...]) -> None:
        _check(event, relay.run(relay.call(event, args)))

    return fuzz


def test_every_event_answers_random_payloads_with_a_stable_code(relay: Relay, error_log: ErrorLog) -> None:
    assert {"send", "sync", "ack"} <= set(relay.events)
    for event, fields in sorted(relay.events.items()):
        _fuzzer(relay, event, fields)()
    assert [r.getMessage() for r in error_log.records] == []


FRAME = limits.MAX_SOCKET_MESSAGE_BYTES


@pytest.mark.parametrize("size", [FRAME // 2, FRAME + 512])
def test_large_frames_are_refused_or_answered(relay: Relay, error_log: ErrorLog, size: int) -> None:
    for payload in ({"id": "a" * size}, bytes(size)):
        try:
            # Over the limit the server drops the connection: no ack ever comes, so do not wait long.
            ack = relay.run(relay.call("send", (payload,), timeout=10.0 if size <= FRAME else 3.0))
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            ack = None  # over the frame limit: the server closes the connection instead of parsing it
        if size <= limits.MAX_SOCKET_MESSAGE_BYTES:
            assert ack is not None
            _check("send", ack)
            assert ack["ok"] is False
        relay.run(relay.connect()) if not relay.sio.connected else None
    _check("sync", relay.run(relay.call("sync", ({},))))  # the relay still serves
    assert [r.getMessage() for r in error_log.records] == []
