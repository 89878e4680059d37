"""The socket.io side of calls: one connection per device (``call.*`` requests and pushes) and the sealed
signaling channel between two joins (docs/PROTOCOL.md §8, version 2).

Signals are addressed by the peer's opaque handle in the session. Each carries the sender's current join
statement; the receiver checks it under the identity key it trusts for that peer (pinned from its contacts,
or introduced by the therapist for a co-participant), never under a key the server hands out, and refuses
a join it has already seen replaced (a replayed old join). Besides the SDP/ICE ``SignalMessage``s, the
channel carries two control messages, sealed the same way and handed to a callback::

    {"kind": "roster", "peers": [{"peer", "name", "device_id", "identity_key"}]}   therapist -> client
    {"kind": "media", "audio": bool, "video": bool}                               any -> any
    {"kind": "audio_only", "on": bool, "reason": str | null}                      any -> any (fallback.py)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Callable
from typing import Any

import socketio

from client.device import Device
from client.errors import ApiError, TransportError
from crypto import boxed
from crypto.errors import CryptoError
from crypto.keys import IdentityPublicKey
from signaling.messages import ChannelClosed, SignalingChannel, SignalMessage, SignalRejected

__all__ = ["CONTROL_KINDS", "CallConnection", "PeerIdentity", "SealedChannel"]

JSON = dict[str, Any]
PUSHES = ("call.waiting", "call.admitted", "call.removed", "call.state", "call.ended")
CONTROL_KINDS = ("roster", "media", "audio_only")


class PeerIdentity:
    """Who a peer handle is for this device: its device id and the identity key this device trusts."""

    def __init__(self, peer: str, device_id: str, identity_key: IdentityPublicKey, name: str = "") -> None:
        self.peer = peer
        self.device_id = device_id
        self.identity_key = identity_key
        self.name = name


class CallConnection:
    """One socket.io connection of a device for calls: ``call.*`` requests, pushes and signals."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self._changed = asyncio.Condition()
        self.pushes: list[tuple[str, JSON]] = []
        self._channels: dict[tuple[str, str], SealedChannel] = {}
        self._pending: dict[tuple[str, str], list[JSON]] = {}
        self._refusal: Any = None
        self._sio = self._new_client()

    def _new_client(self) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False, logger=False, engineio_logger=False)
        for name in PUSHES:
            sio.on(name, self._recorder(name))
        sio.on("call.signal", self._on_signal)

        async def refused(data: Any = None) -> None:
            self._refusal = data

        sio.on("connect_error", refused)
        return sio

    async def connect(self) -> None:
        """Connect with the device's bearer token; log in again once if the server refuses it (expired)."""
        token = self.device.api.token or await self.device.login()
        for attempt in range(2):
            self._refusal = None
            try:
                await self._sio.connect(
                    self.device.api.base_url, auth={"token": token}, transports=["websocket"], wait_timeout=10
                )
                return
            except socketio.exceptions.ConnectionError as exc:
                error = _refusal_error(self._refusal)
                if attempt == 1 or error is None or error.code != "unauthenticated":
                    raise error or TransportError(f"call connection refused: {exc}") from exc
                token = await self.device.login()
                self._sio = self._new_client()

    async def close(self) -> None:
        for channel in list(self._channels.values()):
            channel.closed_by_remote()
        with contextlib.suppress(Exception):
            await self._sio.disconnect()

    async def request(self, event: str, data: JSON, timeout: float = 15.0) -> JSON:
        try:
            reply = await self._sio.call(event, data, timeout=timeout)
        except socketio.exceptions.SocketIOError as exc:
            raise TransportError(f"{event}: {exc.__class__.__name__}") from exc
        if not isinstance(reply, dict) or not reply.get("ok"):
            raise ApiError.from_wire(reply)
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    async def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            raise TimeoutError(f"no {what} within {timeout} s") from None

    async def changed(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_push(self, event: str, timeout: float = 15.0, **match: Any) -> JSON:
        """The first push of ``event`` whose fields include ``match`` (earlier ones count too)."""

        def find() -> JSON | None:
            for name, data in self.pushes:
                if name == event and all(data.get(k) == v for k, v in match.items()):
                    return data
            return None

        await self.wait_until(lambda: find() is not None, timeout, f"{event} {match or ''}")
        found = find()
        assert found is not None
        return found

    def channel(
        self,
        session_id: str,
        own: boxed.Join,
        peer: PeerIdentity,
        on_control: Callable[[str, JSON], None],
    ) -> SealedChannel:
        key = (session_id, peer.peer)
        old = self._channels.get(key)
        channel = SealedChannel(self, session_id, self.device.device_id, own, peer, on_control)
        if old is not None:
            channel.superseded |= old.superseded | ({old.peer_join} if old.peer_join else set())
            old.closed_by_remote()
        self._channels[key] = channel
        for data in self._pending.pop(key, []):
            channel.deliver(data)
        return channel

    def _recorder(self, name: str) -> Any:
        async def record(data: Any = None) -> None:
            doc = data if isinstance(data, dict) else {}
            self.pushes.append((name, doc))
            if name in ("call.ended", "call.removed"):
                for (sid, _), channel in list(self._channels.items()):
                    if sid == doc.get("session_id"):
                        channel.closed_by_remote()
            await self.changed()

        return record

    async def _on_signal(self, data: Any = None) -> None:
        if not isinstance(data, dict):
            return
        key = (str(data.get("session_id")), str(data.get("from_peer")))
        channel = self._channels.get(key)
        if channel is None:  # the offer can arrive before we set up this peer: keep it for channel()
            self._pending.setdefault(key, []).append(data)
        else:
            channel.deliver(data)


def _refusal_error(data: Any) -> ApiError | None:
    """The error object of a refused socket.io connect (``connect_error`` data carries it as ``data``)."""
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]
    return ApiError.from_wire(data) if isinstance(data, dict) and "code" in data else None


class SealedChannel(SignalingChannel):
    """Signals between this join and one peer's joins in one session (docs/PROTOCOL.md §8)."""

    def __init__(
        self,
        conn: CallConnection,
        session_id: str,
        own_device: str,
        own: boxed.Join,
        peer: PeerIdentity,
        on_control: Callable[[str, JSON], None],
    ) -> None:
        self._conn = conn
        self.session_id = session_id
        self._sid = bytes.fromhex(session_id)
        self._own_device = bytes.fromhex(own_device)
        self._own = own
        self.peer = peer
        self._on_control = on_control
        self.peer_join: bytes | None = None  # the join id we accepted for the peer
        self._peer_statement: boxed.JoinStatement | None = None
        self.superseded: set[bytes] = set()  # the peer's earlier joins: never accepted again
        self._seq = 0
        self._last_seq = 0
        self._inbox: asyncio.Queue[JSON | None] = asyncio.Queue()
        self._closed = False

    def accept_join(self, statement_b64: str) -> boxed.JoinStatement:
        """The peer's join, verified under its trusted identity key; a newer join resets the sequence."""
        raw = base64.b64decode(statement_b64, validate=True)
        device = bytes.fromhex(self.peer.device_id)
        statement = boxed.verify_join(self.peer.identity_key, self._sid, device, raw)
        if statement.join_id in self.superseded:
            raise SignalRejected("a replaced join of this peer was presented again")
        if self.peer_join != statement.join_id:
            if self.peer_join is not None:
                self.superseded.add(self.peer_join)
            self.peer_join, self._peer_statement, self._last_seq = statement.join_id, statement, 0
        assert self._peer_statement is not None
        return self._peer_statement

    def deliver(self, data: JSON) -> None:
        self._inbox.put_nowait(data)

    def closed_by_remote(self) -> None:
        self._inbox.put_nowait(None)

    async def send(self, message: SignalMessage) -> None:
        await self._send_bytes(message.to_wire())

    async def send_control(self, body: JSON) -> None:
        await self._send_bytes(json.dumps(body, separators=(",", ":")).encode())

    async def _send_bytes(self, payload: bytes) -> None:
        if self._closed:
            raise ChannelClosed("call channel closed")
        if self._peer_statement is None or self.peer_join is None:
            raise ChannelClosed("the peer's join is not known yet")
        self._seq += 1
        context = boxed.SignalContext(
            self._sid, self._own_device, bytes.fromhex(self.peer.device_id), self._own.join_id, self.peer_join
        )
        sealed = boxed.seal(self._own, self._peer_statement, context, self._seq, payload)
        body = {
            "session_id": self.session_id,
            "to_peer": self.peer.peer,
            "payload": base64.b64encode(sealed).decode("ascii"),
        }
        try:
            await self._conn.request("call.signal", body)
        except (ApiError, TransportError) as exc:
            raise ChannelClosed(f"signal refused: {exc}") from exc

    async def receive(self) -> SignalMessage:
        while True:
            if self._closed:
                raise ChannelClosed("call channel closed")
            data = await self._inbox.get()
            if data is None:
                self._closed = True
                raise ChannelClosed("the call ended")
            payload = self._open(data)
            kind = _control_kind(payload)
            if kind is None:
                return SignalMessage.from_wire(payload)
            self._on_control(self.peer.peer, json.loads(payload))

    def _open(self, data: JSON) -> bytes:
        try:
            statement = self.accept_join(str(data.get("join", "")))
            raw = base64.b64decode(str(data.get("payload", "")), validate=True)
            context = boxed.SignalContext(
                self._sid,
                bytes.fromhex(self.peer.device_id),
                self._own_device,
                statement.join_id,
                self._own.join_id,
            )
            opened = boxed.open(self._own, statement, context, raw, self._last_seq)
        except (CryptoError, ValueError) as exc:
            # A swapped join or SDP, another session or direction, a replay, or garbage: never applied.
            raise SignalRejected(f"signal does not open for this peer's trusted key: {exc!r}") from None
        self._last_seq = opened.seq
        return opened.payload

    async def close(self) -> None:
        self._closed = True


def _control_kind(payload: bytes) -> str | None:
    if not any(payload.startswith(b'{"kind":"%s"' % kind.encode()) for kind in CONTROL_KINDS):
        return None
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    kind = body.get("kind") if isinstance(body, dict) else None
    return kind if kind in CONTROL_KINDS else None
