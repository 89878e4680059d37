"""Video calls through the SDK: schedule, join the waiting room, admit, and talk with aiortc peers.

    call = await Call.join(therapist_device, session_id)            # the therapist opens the room
    client_id = await call.next_waiting()
    await call.admit(client_id)
    peer = await call.connect(client_id)                             # offer -> answer -> media
    ...
    await call.end()

Every join draws fresh ephemeral keys (``crypto.boxed.Join``); signals (offer, answer, candidates, hang-up)
are sealed between the two joins, bound to the session, both joins and both devices
(docs/PROTOCOL.md §8, ``client.call_channel``). A peer's join statement is verified under the identity key
this device trusts for it: for the therapist and its clients, the key pinned from the contact list
(``call_devices_of``); for a co-participant of a group session, the key the therapist introduced in a sealed
roster. A relay that swaps an SDP or replays old signals (even after a reload) is refused
(``SignalRejected``).

Groups up to 4 are a full mesh: the therapist offers to each client; between two clients, the one with
the smaller handle offers.
A participant whose connection dropped comes back with ``Call.join`` on the same device, still admitted.

``run_call`` places one short call between two devices and returns timings (used by ``confidant probe``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCIceServer

from client.call_channel import CallConnection, PeerIdentity, SealedChannel
from client.device import Device
from client.errors import ApiError, TransportError
from client.fallback import AudioOnlyFallback
from client.practice import check_session_with
from crypto import boxed
from crypto.keys import IdentityPublicKey
from signaling.messages import SignalRejected
from signaling.peer import CallPeer, PeerStats

__all__ = [
    "Call",
    "CallConnection",
    "CallTimings",
    "call_devices_of",
    "run_call",
    "schedule_session",
]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
ADMITTED = ("admitted", "connected")


async def call_devices_of(device: Device, account_id: str) -> dict[str, IdentityPublicKey]:
    """The devices of ``account_id`` this device seals call signaling to and accepts it from.

    The one place that decides it: certified devices of the contact's accepted account key (none while a key
    change waits for the person), never merely what the server lists.
    """
    if account_id not in device.state.device_sets:
        await device.contacts()
    certified = device.certified_devices(account_id)
    return {d.device_id: IdentityPublicKey.from_bytes(d.identity_key) for d in certified}


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


@dataclass
class Call:
    """This device in one session (either role), with one join (fresh ephemeral keys)."""

    device: Device
    session_id: str
    conn: CallConnection
    own: boxed.Join
    joined: JSON
    relay_only: bool = False
    video_size: tuple[int, int] = (160, 120)
    peers: dict[str, CallPeer] = field(default_factory=dict)  # peer handle -> aiortc peer
    channels: dict[str, SealedChannel] = field(default_factory=dict)
    roster: dict[str, PeerIdentity] = field(default_factory=dict)  # co-participants the therapist introduced
    media: dict[str, JSON] = field(default_factory=dict)  # peer handle -> {"audio", "video"} it reported
    _waiting_taken: int = 0
    fallback: AudioOnlyFallback = field(init=False)  # audio only when video cannot flow (client/fallback.py)

    def __post_init__(self) -> None:
        self.fallback = AudioOnlyFallback(self.peers, self.media, self._send_control)

    @classmethod
    async def join(
        cls,
        device: Device,
        session_id: str,
        *,
        relay_only: bool = False,
        video_size: tuple[int, int] = (160, 120),
    ) -> Call:
        therapist_id = await _therapist_of(device, session_id)
        if therapist_id not in (None, device.account_id):  # a client checks its therapist before knocking
            await check_session_with(device, therapist_id)
        conn = CallConnection(device)
        await conn.connect()
        own = boxed.Join.create(device.identity, bytes.fromhex(session_id), bytes.fromhex(device.device_id))
        statement = base64.b64encode(own.statement.to_bytes()).decode("ascii")
        try:
            joined = await conn.request("call.join", {"session_id": session_id, "join": statement})
        except BaseException:
            await conn.close()
            raise
        return cls(device, session_id, conn, own, joined, relay_only, video_size)

    @property
    def state(self) -> str:
        return str(self.joined.get("state"))

    @property
    def therapist_id(self) -> str:
        return str(self.joined["session"]["therapist_id"])

    @property
    def room(self) -> JSON:
        """The latest room this device was shown (join ack, ``call.admitted`` or ``call.state``)."""
        for name, data in reversed(self.conn.pushes):
            if name in ("call.state", "call.admitted") and data.get("session_id") == self.session_id:
                room = data.get("room", data)
                return room if isinstance(room, dict) else {}
        room = self.joined.get("room")
        return room if isinstance(room, dict) else {}

    @property
    def handle(self) -> str:
        """This device's opaque handle in the session."""
        for m in self.room.get("members", []):
            if m.get("account_id") == self.device.account_id:
                return str(m["peer"])
        raise LookupError("not in the room")

    def member(self, target: str) -> JSON | None:
        """A member by handle, or (when this device may see it) by account id."""
        for m in self.room.get("members", []):
            if target in (m.get("peer"), m.get("account_id")):
                return dict(m)
        return None

    def member_state(self, target: str) -> str | None:
        m = self.member(target)
        return str(m["state"]) if m else None

    async def wait_member_state(self, target: str, states: Sequence[str], timeout: float = 15.0) -> None:
        await self.conn.wait_until(
            lambda: self.member_state(target) in states, timeout, f"{target} in {'/'.join(states)}"
        )

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
        """Therapist: let ``account_id`` in, unless the practice's rules refuse (``CallRefused``)."""
        await check_session_with(self.device, account_id)
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

    async def renew_turn(self) -> JSON:
        """Fresh TURN credentials (they last only for the session's window); new peers use them."""
        turn = await self.device.api.request("POST", f"/sessions/{self.session_id}/turn")
        self.joined = {**self.joined, "turn": turn}
        return turn

    async def connect(self, target: str, *, place: bool | None = None, timeout: float = 15.0) -> CallPeer:
        """A peer with ``target``'s device (account id or handle) once it is admitted with a join.

        ``place`` sends the offer; by default the therapist does, and between two clients the one with the
        smaller handle. Connecting again to
        the same peer (after it rejoined) replaces the old peer connection.
        """
        await self.conn.wait_until(
            lambda: (m := self.member(target)) is not None and m["state"] in ADMITTED and bool(m.get("join")),
            timeout,
            f"{target} admitted in the room",
        )
        m = self.member(target)
        assert m is not None
        peer_id = await self._identity(m, timeout)
        old = self.peers.pop(peer_id.peer, None)
        if old is not None:
            await old.close()
        channel = self.conn.channel(self.session_id, self.own, peer_id, self._on_control)
        while True:
            try:
                channel.accept_join(str(m["join"]))
                break
            except SignalRejected:
                # The room still shows a join this device has seen replaced (the peer rejoined twice in a
                # row, e.g. a page rendered twice): wait for the room to show the newer one.
                await self._wait_newer_join(target, str(m["join"]), timeout)
                m = self.member(target) or m
        self.channels[peer_id.peer] = channel
        peer = CallPeer(
            channel,
            ice_servers=self.ice_servers(),
            relay_only=self.relay_only,
            video_size=self.video_size,
            name=f"{self.device.role}:{self.device.account_id[:6]}",
        )
        self.peers[peer_id.peer] = peer
        if place if place is not None else self._offers_to(m):
            await peer.call()
        else:
            peer.start()
        self.fallback.watch()
        return peer

    async def connect_all(self, others: int, timeout: float = 20.0) -> dict[str, CallPeer]:
        """Full mesh: connect to the ``others`` other admitted members (the therapist introduces clients)."""

        def admitted() -> list[JSON]:
            return [
                m
                for m in self.room.get("members", [])
                if m["state"] in ADMITTED and m.get("join") and m.get("account_id") != self.device.account_id
            ]

        await self.conn.wait_until(lambda: len(admitted()) >= others, timeout, f"{others} admitted peers")
        # The therapist first: its channel carries the roster that introduces the others.
        ordered = sorted(admitted(), key=lambda m: m.get("account_id") != self.therapist_id)
        targets = [str(m["peer"]) for m in ordered]
        for target in targets:
            if target not in self.peers:
                await self.connect(target, timeout=timeout)
        if self.device.account_id == self.therapist_id:
            await self.introduce()
        return dict(self.peers)

    async def introduce(self, names: dict[str, str] | None = None) -> None:
        """Therapist: tell each admitted client who the other admitted clients are (sealed, end to end)."""
        clients = [
            m
            for m in self.room.get("members", [])
            if m["state"] in ADMITTED and m.get("account_id") not in (None, self.therapist_id)
        ]
        entries = []
        for index, m in enumerate(clients, start=1):
            keys = await call_devices_of(self.device, str(m["account_id"]))
            key = keys.get(str(m["device_id"]))
            if key is None:
                continue
            name = (names or {}).get(str(m["account_id"]), f"Participant {index}")
            entries.append(
                {
                    "peer": m["peer"],
                    "name": name,
                    "device_id": m["device_id"],
                    "identity_key": base64.b64encode(key.to_bytes()).decode("ascii"),
                }
            )
        for m in clients:
            channel = self.channels.get(str(m["peer"]))
            if channel is not None:
                others = [e for e in entries if e["peer"] != m["peer"]]
                await channel.send_control({"kind": "roster", "peers": others})

    async def set_media(self, *, audio: bool, video: bool) -> None:
        """Tell every peer whether our microphone and camera are on (they show mute / camera off)."""
        self.fallback.camera = video
        for handle, peer in self.peers.items():
            await peer.set_camera(video and not self.fallback.pair(handle).off)
        for channel in self.channels.values():
            await channel.send_control({"kind": "media", "audio": audio, "video": video})

    async def audio_only(self, on: bool) -> None:
        """The person's choice: audio only with everyone (True), or video again (False; also retries at
        once a fallback the call made by itself because video could not flow)."""
        await self.fallback.choose(on)

    async def report_media(self, connected: bool) -> JSON:
        return await self.conn.request("call.media", {"session_id": self.session_id, "connected": connected})

    async def hang_up(self) -> None:
        await self.fallback.stop()
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
        await self.fallback.stop()
        for peer in self.peers.values():
            await peer.close()
        await self.conn.close()

    async def _wait_newer_join(self, target: str, stale: str, timeout: float) -> None:
        def newer() -> bool:
            return (self.member(target) or {}).get("join") not in (None, stale)

        await self.conn.wait_until(newer, timeout, "a newer join")

    async def _send_control(self, handle: str, body: JSON) -> None:
        channel = self.channels.get(handle)
        if channel is not None:
            await channel.send_control(body)

    def _offers_to(self, m: JSON) -> bool:
        """Who places the offer in a pair: the therapist; between two clients, the smaller handle."""
        if self.device.account_id == self.therapist_id:
            return True
        return m.get("account_id") != self.therapist_id and self.handle < str(m["peer"])

    async def _identity(self, m: JSON, timeout: float) -> PeerIdentity:
        handle = str(m["peer"])
        account, device_id = m.get("account_id"), m.get("device_id")
        if account and device_id:  # the therapist, or (for the therapist) one of its clients
            await check_session_with(self.device, str(account))
            key = (await call_devices_of(self.device, str(account))).get(str(device_id))
            if key is None:
                raise ApiError("not_linked", f"device {device_id} of {account} is not one of your contacts")
            return PeerIdentity(handle, str(device_id), key)
        await self.conn.wait_until(lambda: handle in self.roster, timeout, "the therapist's introduction")
        return self.roster[handle]

    def _on_control(self, from_peer: str, body: JSON) -> None:
        therapist = self.member(self.therapist_id)
        if body.get("kind") == "roster" and therapist is not None and from_peer == therapist["peer"]:
            for entry in body.get("peers", []):
                try:
                    key = IdentityPublicKey.from_bytes(base64.b64decode(entry["identity_key"], validate=True))
                    self.roster[str(entry["peer"])] = PeerIdentity(
                        str(entry["peer"]), str(entry["device_id"]), key, str(entry.get("name", ""))
                    )
                except (KeyError, ValueError, TypeError):
                    log.warning("ignored a malformed roster entry")
        elif body.get("kind") == "media":
            self.media[from_peer] = {"audio": bool(body.get("audio")), "video": bool(body.get("video"))}
        elif body.get("kind") == "audio_only":
            applied = asyncio.ensure_future(self.fallback.on_message(from_peer, body))
            applied.add_done_callback(lambda _: None)
        task = asyncio.ensure_future(self.conn.changed())
        task.add_done_callback(lambda _: None)


async def _therapist_of(device: Device, session_id: str) -> str | None:
    # None when the server does not show the session: ``call.join`` then refuses with the real reason, and
    # if a dishonest server lets the join through anyway, ``connect`` still checks before any signal.
    try:
        session = await device.api.request("GET", f"/sessions/{session_id}")
    except ApiError:
        return None
    return str(session["therapist_id"])


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
