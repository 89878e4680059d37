"""Video calls through the SDK: schedule, join the waiting room, admit, and talk with an aiortc peer.

    call = await Call.join(therapist_device, session_id)            # the therapist opens the room
    client_id = await call.next_waiting()
    await call.admit(client_id)
    peer = await call.connect(client_id)                             # offer -> answer -> media
    ...
    await call.end()

Signals (offer, answer, candidates, hang-up) are sealed end to end with ``crypto.boxed`` between the two
devices' identity keys, bound to (session, from device, to device, sequence number). The receiver opens
them with the identity key it PINNED for that contact (``Device.contacts``), never with a key the server
hands out: a relay that swaps an SDP (and its DTLS fingerprint) produces a signal that does not open, and
the peer drops it (``SignalRejected``). The therapist places the calls; clients answer.

``run_call`` places one short call between two devices and returns timings (used by ``confidant probe``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiortc import RTCIceServer

from client.device import Device
from client.errors import ApiError, TransportError
from crypto import boxed
from crypto.errors import CryptoError
from crypto.keys import IdentityKeyPair, IdentityPublicKey
from signaling.messages import ChannelClosed, SignalingChannel, SignalMessage, SignalRejected
from signaling.peer import CallPeer, PeerStats

__all__ = ["BoxedChannel", "Call", "CallConnection", "CallTimings", "run_call", "schedule_session"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
PUSHES = ("call.waiting", "call.admitted", "call.removed", "call.state", "call.ended")


async def schedule_session(
    therapist: Device,
    participants: Sequence[str],
    *,
    starts_at: int | None = None,
    duration_s: int = 3600,
    max_participants: int | None = None,
) -> JSON:
    """``POST /sessions``: a session for the therapist's clients, starting now by default."""
    start = starts_at if starts_at is not None else int(time.time() * 1000)
    body: JSON = {
        "participants": list(participants),
        "starts_at": start,
        "ends_at": start + duration_s * 1000,
    }
    if max_participants is not None:
        body["max_participants"] = max_participants
    return await therapist.api.request("POST", "/sessions", body)


class CallConnection:
    """One socket.io connection of a device for calls: ``call.*`` requests, pushes and signals."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self._changed = asyncio.Condition()
        self.pushes: list[tuple[str, JSON]] = []
        self._channels: dict[tuple[str, str], BoxedChannel] = {}
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
        peer_account: str,
        peer_device: str,
        peer_key: IdentityPublicKey,
        identity: IdentityKeyPair,
    ) -> BoxedChannel:
        key = (session_id, peer_device)
        channel = BoxedChannel(
            self, session_id, identity, self.device.device_id, peer_account, peer_device, peer_key
        )
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
            async with self._changed:
                self._changed.notify_all()

        return record

    async def _on_signal(self, data: Any = None) -> None:
        if not isinstance(data, dict):
            return
        key = (str(data.get("session_id")), str(data.get("from_device")))
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


class BoxedChannel(SignalingChannel):
    """Signals with one peer device in one session, sealed with ``crypto.boxed`` (docs/PROTOCOL.md §8)."""

    def __init__(
        self,
        conn: CallConnection,
        session_id: str,
        identity: IdentityKeyPair,
        own_device: str,
        peer_account: str,
        peer_device: str,
        peer_key: IdentityPublicKey,
    ) -> None:
        self._conn = conn
        self.session_id = session_id
        self._identity = identity
        self._peer_account = peer_account
        self._peer_device = peer_device
        self._peer_key = peer_key
        self._out = boxed.SignalContext(
            bytes.fromhex(session_id), bytes.fromhex(own_device), bytes.fromhex(peer_device)
        )
        self._in = boxed.SignalContext(
            bytes.fromhex(session_id), bytes.fromhex(peer_device), bytes.fromhex(own_device)
        )
        self._seq = 0
        self._last_seq = 0
        self._inbox: asyncio.Queue[JSON | None] = asyncio.Queue()
        self._closed = False

    def deliver(self, data: JSON) -> None:
        self._inbox.put_nowait(data)

    def closed_by_remote(self) -> None:
        self._inbox.put_nowait(None)

    async def send(self, message: SignalMessage) -> None:
        if self._closed:
            raise ChannelClosed("call channel closed")
        self._seq += 1
        sealed = boxed.seal(self._identity, self._peer_key, self._out, self._seq, message.to_wire())
        body = {
            "session_id": self.session_id,
            "to_account": self._peer_account,
            "to_device": self._peer_device,
            "payload": base64.b64encode(sealed).decode("ascii"),
        }
        try:
            await self._conn.request("call.signal", body)
        except (ApiError, TransportError) as exc:
            raise ChannelClosed(f"signal refused: {exc}") from exc

    async def receive(self) -> SignalMessage:
        if self._closed:
            raise ChannelClosed("call channel closed")
        data = await self._inbox.get()
        if data is None:
            self._closed = True
            raise ChannelClosed("the call ended")
        try:
            raw = base64.b64decode(str(data.get("payload", "")), validate=True)
            opened = boxed.open(self._identity, self._peer_key, self._in, raw, self._last_seq)
        except (CryptoError, ValueError) as exc:
            # Wrong sender key (a swapped SDP), wrong call/direction, replay, or garbage: never applied.
            raise SignalRejected(
                f"signal does not open with the pinned key of this contact: {exc!r}"
            ) from None
        self._last_seq = opened.seq
        return SignalMessage.from_wire(opened.payload)

    async def close(self) -> None:
        self._closed = True


@dataclass
class Call:
    """This device in one session (either role)."""

    device: Device
    session_id: str
    conn: CallConnection
    joined: JSON
    relay_only: bool = False
    video_size: tuple[int, int] = (160, 120)
    peers: dict[str, CallPeer] = field(default_factory=dict)  # account id -> peer
    _waiting_taken: int = 0

    @classmethod
    async def join(
        cls,
        device: Device,
        session_id: str,
        *,
        relay_only: bool = False,
        video_size: tuple[int, int] = (160, 120),
    ) -> Call:
        conn = CallConnection(device)
        await conn.connect()
        try:
            joined = await conn.request("call.join", {"session_id": session_id})
        except BaseException:
            await conn.close()
            raise
        return cls(device, session_id, conn, joined, relay_only, video_size)

    @property
    def state(self) -> str:
        return str(self.joined.get("state"))

    async def next_waiting(self, timeout: float = 15.0) -> str:
        """Therapist: the account id of the next client who entered the waiting room."""

        def nth() -> JSON | None:
            found = [
                d
                for n, d in self.conn.pushes
                if n == "call.waiting" and d.get("session_id") == self.session_id
            ]
            return found[self._waiting_taken] if len(found) > self._waiting_taken else None

        await self.conn.wait_until(lambda: nth() is not None, timeout, "call.waiting")
        data = nth()
        assert data is not None
        self._waiting_taken += 1
        return str(data["account_id"])

    async def admit(self, account_id: str) -> JSON:
        return await self.conn.request(
            "call.admit", {"session_id": self.session_id, "account_id": account_id}
        )

    async def remove(self, account_id: str) -> JSON:
        return await self.conn.request(
            "call.remove", {"session_id": self.session_id, "account_id": account_id}
        )

    async def wait_admitted(self, timeout: float = 15.0) -> JSON:
        if self.state == "admitted":
            return self.joined
        admitted = await self.conn.wait_push("call.admitted", timeout, session_id=self.session_id)
        self.joined = {
            **self.joined,
            "state": "admitted",
            "turn": admitted.get("turn"),
            "room": admitted["room"],
        }
        return admitted

    def ice_servers(self) -> list[RTCIceServer]:
        turn = self.joined.get("turn") or {}
        return [
            RTCIceServer(urls=s["urls"], username=s["username"], credential=s["credential"])
            for s in turn.get("ice_servers", [])
        ]

    async def connect(self, account_id: str, *, place: bool = True, timeout: float = 15.0) -> CallPeer:
        """A peer with ``account_id``'s device in the room; ``place`` sends the offer (the therapist does)."""
        device_id = await self._device_in_room(account_id, timeout)
        key = await self._pinned_key(account_id, device_id)
        channel = self.conn.channel(self.session_id, account_id, device_id, key, self.device.identity)
        peer = CallPeer(
            channel,
            ice_servers=self.ice_servers(),
            relay_only=self.relay_only,
            video_size=self.video_size,
            name=f"{self.device.role}:{self.device.account_id[:6]}",
        )
        self.peers[account_id] = peer
        if place:
            await peer.call()
        else:
            peer.start()
        return peer

    async def report_media(self, connected: bool) -> JSON:
        return await self.conn.request("call.media", {"session_id": self.session_id, "connected": connected})

    async def hang_up(self) -> None:
        for peer in self.peers.values():
            await peer.hang_up()

    async def leave(self) -> None:
        await self.hang_up()
        with contextlib.suppress(ApiError, TransportError):
            await self.conn.request("call.leave", {"session_id": self.session_id})
        await self.conn.close()

    async def end(self) -> JSON:
        """Therapist: end the session for everyone (the others get ``call.ended``)."""
        await self.hang_up()
        try:
            return await self.conn.request("call.end", {"session_id": self.session_id})
        finally:
            await self.conn.close()

    async def close(self) -> None:
        for peer in self.peers.values():
            await peer.close()
        await self.conn.close()

    async def _device_in_room(self, account_id: str, timeout: float) -> str:
        def admitted_device(room: JSON) -> str | None:
            for m in room.get("members", []):
                if m.get("account_id") == account_id and m.get("state") in ("admitted", "connected"):
                    return str(m["device_id"])
            return None

        def latest() -> str | None:
            for name, data in reversed(self.conn.pushes):
                if name in ("call.state", "call.admitted") and data.get("session_id") == self.session_id:
                    return admitted_device(data.get("room", data))
            return admitted_device(self.joined.get("room") or {})

        await self.conn.wait_until(
            lambda: latest() is not None, timeout, f"{account_id} admitted in the room"
        )
        found = latest()
        assert found is not None
        return found

    async def _pinned_key(self, account_id: str, device_id: str) -> IdentityPublicKey:
        pinned = self.device.book.pinned(device_id)
        if pinned is None:  # first call with this device: pin it from the contact list (key-change aware)
            await self.device.contacts()
            pinned = self.device.book.pinned(device_id)
        if pinned is None:
            raise ApiError("not_linked", f"device {device_id} of {account_id} is not one of your contacts")
        return IdentityPublicKey.from_bytes(pinned)


@dataclass(frozen=True)
class CallTimings:
    """Seconds, measured on the caller's clock."""

    schedule_s: float  # POST /sessions
    join_s: float  # therapist and client in the room (both acks)
    admit_s: float  # therapist admits -> client told
    connected_s: float  # offer sent -> ICE + DTLS connected (therapist side)
    first_video_s: float  # offer sent -> first decoded video frame from the client, at the therapist
    total_s: float  # schedule -> both see video
    therapist: PeerStats
    client: PeerStats


async def run_call(
    therapist: Device, client: Device, *, relay_only: bool = False, hold_s: float = 1.0, timeout: float = 30.0
) -> CallTimings:
    """Place one short call: schedule, join, admit, connect, see video both ways, hang up, end.

    Both devices must be started (logged in); the client must have accepted the therapist's terms.
    ``relay_only`` forces media through the server's TURN relay (fails if the server has none).
    """
    t0 = time.perf_counter()
    session = await schedule_session(therapist, [client.account_id], duration_s=1800)
    t1 = time.perf_counter()
    sid = session["session_id"]
    host = await Call.join(therapist, sid, relay_only=relay_only)
    guest: Call | None = None
    try:
        guest = await Call.join(client, sid, relay_only=relay_only)
        t2 = time.perf_counter()
        await host.admit(client.account_id)
        await guest.wait_admitted(timeout)
        t3 = time.perf_counter()
        answering = await guest.connect(therapist.account_id, place=False, timeout=timeout)
        calling = await host.connect(client.account_id, timeout=timeout)
        stats = await calling.wait_connected(timeout)
        await asyncio.gather(
            calling.wait_frames("video", 1, timeout), answering.wait_frames("video", 1, timeout)
        )
        t4 = time.perf_counter()
        await host.report_media(True)
        if hold_s > 0:
            await asyncio.sleep(hold_s)  # the call itself: media keeps flowing for hold_s
        theirs, ours = answering.stats(), calling.stats()
        assert stats.connected_after is not None
        return CallTimings(
            t1 - t0,
            t2 - t1,
            t3 - t2,
            stats.connected_after,
            ours.first_frame_after["video"],
            t4 - t0,
            ours,
            theirs,
        )
    finally:
        with contextlib.suppress(ApiError, TransportError):
            await host.end()
        if guest is not None:
            await guest.close()
        await host.close()
