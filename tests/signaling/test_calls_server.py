"""Therapist and client call each other through the real app: waiting room, admission, sealed signals."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from client.calls import Call, run_call, schedule_session
from crypto import boxed
from crypto.keys import IdentityKeyPair, IdentityPublicKey
from signaling.messages import SignalKind, SignalMessage
from signaling.peer import NoRelayCandidates
from tests.fixtures.coturn_proc import Coturn
from tests.signaling._kit import CallServer, serve

pytestmark = pytest.mark.webrtc


async def test_media_flows_both_ways_and_hang_up_ends_the_call_for_both(call_server: CallServer) -> None:
    therapist = await call_server.therapist()
    client = await call_server.client(therapist)
    sid = (await schedule_session(therapist, [client.account_id]))["session_id"]

    host = await Call.join(therapist, sid)
    guest = await Call.join(client, sid)
    assert (host.state, guest.state) == ("admitted", "waiting")
    assert await host.next_waiting() == client.account_id
    await host.admit(client.account_id)
    await guest.wait_admitted()

    answering = await guest.connect(therapist.account_id, place=False)
    calling = await host.connect(client.account_id)
    for peer in (calling, answering):
        await peer.wait_frames("video", 10)
        await peer.wait_frames("audio", 10)
    assert calling.stats().selected_local_type == "host"
    room = await guest.report_media(True)
    assert {m["account_id"]: m["state"] for m in room["members"]}[client.account_id] == "connected"

    await calling.hang_up()
    await answering.wait_ended()
    assert answering.stats().connection_state == "closed"

    await host.end()
    ended = await guest.conn.wait_push("call.ended", session_id=sid)
    assert ended["state"] == "ended"
    session = await therapist.api.request("GET", f"/sessions/{sid}")
    assert session["state"] == "ended" and session["started_at"] is not None
    attendance = (await therapist.api.request("GET", f"/sessions/{sid}/attendance"))["attendance"]
    assert {a["account_id"] for a in attendance} == {therapist.account_id, client.account_id}
    assert all(a["left_at"] is not None and a["left_at"] >= a["joined_at"] for a in attendance)
    await guest.close()


async def test_screen_share_and_reconnect_renegotiate_through_the_server(call_server: CallServer) -> None:
    therapist = await call_server.therapist()
    client = await call_server.client(therapist)
    sid = (await schedule_session(therapist, [client.account_id]))["session_id"]
    host, guest = await Call.join(therapist, sid), await Call.join(client, sid)
    await host.admit(client.account_id)
    await guest.wait_admitted()
    answering = await guest.connect(therapist.account_id, place=False)
    calling = await host.connect(client.account_id)
    await answering.wait_frames("video", 5)

    await answering.share_screen()  # the client shares its screen: a new offer through the server
    await calling.wait_frames("video", 5, track="video:1")
    await calling.set_camera(False)
    await calling.set_camera(True)
    await answering.wait_frames("video", 5)

    await calling.restart_ice()  # network change on the therapist's side
    await answering.wait_connected()
    await answering.wait_frames("video", 10)
    await calling.wait_frames("video", 10)
    assert calling.stats().restarts == answering.stats().restarts == 1
    assert calling.stats().rejected_signals == answering.stats().rejected_signals == 0
    await host.end()
    await guest.close()


async def test_relay_only_call_goes_through_coturn_with_credentials_from_the_server(
    call_server: CallServer, coturn: Coturn
) -> None:
    therapist = await call_server.therapist()
    client = await call_server.client(therapist)

    timings = await run_call(therapist, client, relay_only=True, hold_s=0.5)

    for stats in (timings.therapist, timings.client):
        assert stats.local_candidate_types == ("relay",)
        assert (stats.selected_local_type, stats.selected_remote_type) == ("relay", "relay")
        assert stats.frames_received["video"] > 0
    assert 0 < timings.connected_s < timings.total_s
    # The server minted one username per account; coturn accepted both and relayed the media.
    for account in (therapist.account_id, client.account_id):
        allocated = await coturn.wait_for_log(
            rf"user <(\d+:{account})>: incoming packet ALLOCATE processed, success"
        )
        await coturn.wait_for_relayed_bytes(allocated.group(1), at_least=10_000)


async def test_a_server_that_swaps_the_offer_is_detected_and_the_receiver_refuses_it(
    call_server: CallServer,
) -> None:
    """A hostile relay replaces the therapist's offer by its own (its own DTLS fingerprint), sealed with its
    own key to the client's public identity key, with the right session, devices and sequence number."""
    therapist = await call_server.therapist()
    client = await call_server.client(therapist)
    sid = (await schedule_session(therapist, [client.account_id]))["session_id"]
    mallory = IdentityKeyPair.generate()
    mitm = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    mitm.addTransceiver("video")
    await mitm.setLocalDescription(await mitm.createOffer())
    forged_sdp = mitm.localDescription.sdp
    swapped: list[str] = []
    sio = call_server.ctx.sio
    real_emit = sio.emit

    async def hostile_emit(event: str, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if event == "call.signal" and data["from_device"] == therapist.device_id and not swapped:
            context = boxed.SignalContext(
                bytes.fromhex(sid), bytes.fromhex(therapist.device_id), bytes.fromhex(client.device_id)
            )
            forged = SignalMessage(SignalKind.OFFER, sdp=forged_sdp).to_wire()
            client_key = IdentityPublicKey.from_bytes(client.identity.public.to_bytes())  # public knowledge
            data = {
                **data,
                "payload": base64.b64encode(boxed.seal(mallory, client_key, context, 1, forged)).decode(),
            }
            swapped.append(forged_sdp)
        await real_emit(event, data, *args, **kwargs)

    sio.emit = hostile_emit
    try:
        host, guest = await Call.join(therapist, sid), await Call.join(client, sid)
        await host.admit(client.account_id)
        await guest.wait_admitted()
        answering = await guest.connect(therapist.account_id, place=False)
        calling = await host.connect(client.account_id)
        await answering.wait_rejected()
        assert swapped, "the proxy did not see the offer"
        assert "pinned key" in (answering.last_rejection or "")
        assert answering.stats().connection_state == "new"  # the forged offer was never applied
        assert calling.stats().connection_state == "new"  # and no answer went back
        assert calling.stats().rejected_signals == 0
    finally:
        sio.emit = real_emit
        await mitm.close()
    # Without the proxy, the therapist's next offer (a retry) opens and the call connects.
    await calling.restart_ice()
    await answering.wait_frames("video", 5)
    await host.end()
    await guest.close()


async def test_a_tampered_byte_or_a_replayed_signal_is_refused(call_server: CallServer) -> None:
    therapist = await call_server.therapist()
    client = await call_server.client(therapist)
    sid = (await schedule_session(therapist, [client.account_id]))["session_id"]
    seen: list[dict[str, Any]] = []
    sio = call_server.ctx.sio
    real_emit = sio.emit

    async def flip_then_replay(event: str, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if event == "call.signal" and data["from_device"] == therapist.device_id and not seen:
            seen.append(data)
            raw = bytearray(base64.b64decode(data["payload"]))
            raw[100] ^= 0x01  # one bit inside the SDP ciphertext
            await real_emit(
                event, {**data, "payload": base64.b64encode(bytes(raw)).decode()}, *args, **kwargs
            )
            return
        await real_emit(event, data, *args, **kwargs)

    sio.emit = flip_then_replay
    try:
        host, guest = await Call.join(therapist, sid), await Call.join(client, sid)
        await host.admit(client.account_id)
        await guest.wait_admitted()
        answering = await guest.connect(therapist.account_id, place=False)
        calling = await host.connect(client.account_id)
        await answering.wait_rejected()
        assert answering.stats().connection_state == "new"
    finally:
        sio.emit = real_emit
    await calling.restart_ice()  # seq 2: opens
    await answering.wait_connected()
    before = answering.stats().rejected_signals
    await real_emit("call.signal", seen[0], room=f"device:{client.device_id}")  # the original seq 1, again
    await answering.wait_for_rejections(before + 1)
    assert answering.stats().connection_state == "connected"
    await host.end()
    await guest.close()


def _code(err: Exception) -> tuple[str, str | None]:
    code = getattr(err, "code", None)
    details = getattr(err, "details", {}) or {}
    return str(code), details.get("reason")


async def _refusal(call: Any) -> tuple[str, str | None]:
    from client.errors import ApiError

    with pytest.raises(ApiError) as info:
        await call
    return _code(info.value)


async def test_refusals_have_stable_codes(call_server: CallServer) -> None:
    therapist = await call_server.therapist()
    client = await call_server.client(therapist)
    uninvited = await call_server.client(therapist)
    other_therapist = await call_server.therapist()
    others_client = await call_server.client(other_therapist)
    no_consent = await call_server.client(therapist, consent=False)
    sid = (await schedule_session(therapist, [client.account_id, no_consent.account_id]))["session_id"]

    # Scheduling with another therapist's client, or as a client.
    assert await _refusal(schedule_session(therapist, [others_client.account_id])) == (
        "not_linked",
        "not_your_client",
    )
    assert await _refusal(schedule_session(client, [client.account_id])) == ("forbidden", "not_host")

    host = await Call.join(therapist, sid)
    guest = await Call.join(client, sid)
    # Not invited (same therapist's other client; another therapist's client): the session does not exist.
    for outsider in (uninvited, others_client):
        assert await _refusal(Call.join(outsider, sid)) == ("not_found", "not_invited")
    # Invited but without consent to the therapist's current terms.
    assert (await _refusal(Call.join(no_consent, sid)))[0] == "consent_required"
    # In the waiting room but not admitted: no signaling, no TURN credentials, no admitting others.
    payload = base64.b64encode(secrets.token_bytes(200)).decode()
    signal = {
        "session_id": sid,
        "to_account": therapist.account_id,
        "to_device": therapist.device_id,
        "payload": payload,
    }
    assert await _refusal(guest.conn.request("call.signal", signal)) == ("forbidden", "not_admitted")
    assert await _refusal(client.api.request("POST", f"/sessions/{sid}/turn")) == (
        "forbidden",
        "not_admitted",
    )
    assert await _refusal(guest.admit(client.account_id)) == ("forbidden", "not_host")
    # The therapist cannot signal to a device that is only waiting.
    to_waiting = {**signal, "to_account": client.account_id, "to_device": client.device_id}
    assert await _refusal(host.conn.request("call.signal", to_waiting)) == ("forbidden", "peer_not_admitted")
    # Once open, a session cannot be rescheduled; a removed client cannot come back.
    assert await _refusal(therapist.api.request("PATCH", f"/sessions/{sid}", {"ends_at": 2**40})) == (
        "conflict",
        "invalid_state",
    )
    await host.remove(client.account_id)
    await guest.conn.wait_push("call.removed", session_id=sid)
    assert await _refusal(Call.join(client, sid)) == ("forbidden", "removed")
    # Ended: nobody joins or signals any more.
    await host.end()
    assert await _refusal(Call.join(therapist, sid)) == ("conflict", "session_closed")
    assert await _refusal(therapist.api.request("DELETE", f"/sessions/{sid}")) == (
        "conflict",
        "session_closed",
    )
    await guest.close()


async def test_scheduling_lists_reschedules_and_cancels(call_server: CallServer) -> None:
    therapist = await call_server.therapist()
    a, b = await call_server.client(therapist), await call_server.client(therapist)
    later = await schedule_session(therapist, [a.account_id], starts_at=_now() + 3_600_000)
    sid = later["session_id"]
    assert later["state"] == "scheduled" and later["participants"] == [a.account_id]
    moved = await therapist.api.request(
        "PATCH",
        f"/sessions/{sid}",
        {
            "starts_at": _now() + 7_200_000,
            "ends_at": _now() + 9_000_000,
            "participants": [a.account_id, b.account_id],
        },
    )
    assert (
        sorted(moved["participants"]) == sorted([a.account_id, b.account_id])
        and moved["max_participants"] == 2
    )
    assert [s["session_id"] for s in (await b.api.request("GET", "/sessions"))["sessions"]] == [sid]
    assert await _refusal(Call.join(b, sid)) == ("conflict", "outside_window")  # two hours too early
    cancelled = await therapist.api.request("DELETE", f"/sessions/{sid}")
    assert cancelled["state"] == "cancelled"
    assert await _refusal(Call.join(a, sid)) == ("conflict", "session_closed")
    bad = {"participants": [a.account_id], "starts_at": _now() + 10_000, "ends_at": _now()}
    assert await _refusal(therapist.api.request("POST", "/sessions", bad)) == (
        "invalid_field",
        "invalid_session",
    )


def _now() -> int:
    import time

    return time.time_ns() // 1_000_000


async def test_expired_turn_credentials_are_refused_by_coturn_and_reported(
    tmp_path: Path, coturn: Coturn, loopback_ice: None
) -> None:
    """The server's clock jumps 3 h back: it mints credentials (2 h lifetime) that coturn sees as expired."""
    skew = [0]
    async with serve(tmp_path, coturn, clock=lambda: _now() - skew[0]) as srv:
        therapist = await srv.therapist()
        client = await srv.client(therapist)
        skew[0] = 3 * 3600 * 1000
        sid = (await schedule_session(therapist, [client.account_id], starts_at=_now() - skew[0]))[
            "session_id"
        ]
        host = await Call.join(therapist, sid, relay_only=True)
        guest = await Call.join(client, sid, relay_only=True)
        await host.admit(client.account_id)
        await guest.wait_admitted()
        turn = host.joined["turn"]
        assert turn["expires_at"] < _now()
        with pytest.raises(NoRelayCandidates, match="credentials wrong or expired"):
            await host.connect(client.account_id)
        username = turn["ice_servers"][0]["username"]
        await coturn.wait_for_log(rf"user <{username}>: incoming packet message processed, error 401")
        await host.close()
        await guest.close()


async def test_waiting_room_rules_full_room_new_terms_leave_and_rejoin(call_server: CallServer) -> None:
    therapist = await call_server.therapist()
    a, b = await call_server.client(therapist), await call_server.client(therapist)
    sid = (await schedule_session(therapist, [a.account_id, b.account_id], max_participants=1))["session_id"]
    host = await Call.join(therapist, sid)
    guest_a, guest_b = await Call.join(a, sid), await Call.join(b, sid)
    assert {await host.next_waiting(), await host.next_waiting()} == {a.account_id, b.account_id}

    room = await host.admit(a.account_id)
    assert {m["account_id"]: m["state"] for m in room["members"]} == {
        therapist.account_id: "admitted",
        a.account_id: "admitted",
        b.account_id: "waiting",
    }
    assert await _refusal(host.admit(b.account_id)) == ("conflict", "session_full")
    # b stays in the waiting room and sees the room change.
    state = await guest_b.conn.wait_push("call.state", session_id=sid, state="in_progress")
    assert {m["account_id"] for m in state["members"]} == {therapist.account_id, a.account_id, b.account_id}

    # a leaves: the room shows it, and rejoining means waiting for admission again.
    await guest_a.leave()
    rejoined = await Call.join(a, sid)
    assert rejoined.state == "waiting"
    # New terms while b waits: b must accept them before being admitted.
    await therapist.publish_terms("Terms v2: also, sessions may not be recorded by anyone.")
    err = await _refusal(host.admit(b.account_id))
    assert err[0] == "consent_required"
    await b.accept_terms(therapist.account_id)
    await host.admit(b.account_id)
    await guest_b.wait_admitted()
    assert str(guest_b.ice_servers()[0].username).endswith(f":{b.account_id}")  # TURN credentials, admitted
    await host.end()
    for call in (rejoined, guest_b):
        await call.close()


async def test_the_call_connection_logs_in_again_when_its_token_was_revoked(call_server: CallServer) -> None:
    therapist = await call_server.therapist()
    client = await call_server.client(therapist)
    sid = (await schedule_session(therapist, [client.account_id]))["session_id"]
    await therapist.api.request("DELETE", "/auth/token")  # e.g. expired: the socket refuses it
    host = await Call.join(therapist, sid)
    assert host.state == "admitted"
    await host.close()
