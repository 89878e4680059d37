"""Therapist and client call each other through the real app: waiting room, admission, sealed signals."""

from __future__ import annotations

import base64
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from client.calls import Call, run_call, schedule_session
from crypto import boxed
from crypto.keys import IdentityKeyPair
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
    # The server minted one opaque username per participant (no account id); coturn relayed the media.
    allocated = r"user <(\d+:[0-9a-f]{32})>: incoming packet ALLOCATE processed, success"
    await coturn.wait_for_log(allocated)
    assert len(set(re.findall(allocated, coturn.log_text()))) >= 2
    assert therapist.account_id not in coturn.log_text() and client.account_id not in coturn.log_text()


async def test_a_server_that_swaps_the_offer_is_detected_and_the_receiver_refuses_it(
    call_server: CallServer,
) -> None:
    """A hostile relay replaces the therapist's offer by its own (its own DTLS fingerprint): it presents its
    own join for the therapist's device and seals to the client's real join, with the right session,
    devices, joins and sequence number. Then it tries the therapist's real join with its own ephemeral key."""
    therapist = await call_server.therapist()
    client = await call_server.client(therapist)
    sid = (await schedule_session(therapist, [client.account_id]))["session_id"]
    mallory = IdentityKeyPair.generate()
    mitm = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    mitm.addTransceiver("video")
    await mitm.setLocalDescription(await mitm.createOffer())
    forged = SignalMessage(SignalKind.OFFER, sdp=mitm.localDescription.sdp).to_wire()
    swapped: list[str] = []
    sio = call_server.ctx.sio
    real_emit = sio.emit
    t_dev, c_dev, session = (
        bytes.fromhex(therapist.device_id),
        bytes.fromhex(client.device_id),
        bytes.fromhex(sid),
    )

    async def hostile_emit(event: str, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if event == "call.signal" and kwargs.get("room") == f"device:{client.device_id}" and len(swapped) < 2:
            client_join = boxed.JoinStatement.from_bytes(base64.b64decode(guest_join[0]))
            own = boxed.Join.create(mallory, session, t_dev)
            statement = (
                own.statement
                if not swapped
                else boxed.JoinStatement.from_bytes(
                    base64.b64decode(data["join"])  # the therapist's real, signed join ...
                )
            )
            context = boxed.SignalContext(session, t_dev, c_dev, statement.join_id, client_join.join_id)
            sealed = boxed.seal(own, client_join, context, 1, forged)  # ... but sealed with mallory's key
            data = {
                **data,
                "join": base64.b64encode(statement.to_bytes()).decode(),
                "payload": base64.b64encode(sealed).decode(),
            }
            swapped.append("x")
        await real_emit(event, data, *args, **kwargs)

    guest_join: list[str] = []
    sio.emit = hostile_emit
    try:
        host, guest = await Call.join(therapist, sid), await Call.join(client, sid)
        guest_join.append(base64.b64encode(guest.own.statement.to_bytes()).decode())
        await host.admit(client.account_id)
        await guest.wait_admitted()
        answering = await guest.connect(therapist.account_id, place=False)
        calling = await host.connect(client.account_id, place=True)
        await answering.wait_rejected()
        await calling.restart_ice()  # the therapist offers again: the relay tries its second trick
        await answering.wait_for_rejections(2)
        assert len(swapped) == 2, "the proxy did not see the signals"
        assert "BadSignature" in (answering.last_rejection or "") or "DecryptionFailed" in (
            answering.last_rejection or ""
        )
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


async def test_a_tampered_byte_or_a_replayed_signal_is_refused_even_after_a_reload(
    call_server: CallServer,
) -> None:
    therapist = await call_server.therapist()
    client = await call_server.client(therapist)
    sid = (await schedule_session(therapist, [client.account_id]))["session_id"]
    seen: list[dict[str, Any]] = []
    sio = call_server.ctx.sio
    real_emit = sio.emit
    to_client = f"device:{client.device_id}"

    async def flip_then_replay(event: str, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if event == "call.signal" and kwargs.get("room") == to_client and not seen:
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
        calling = await host.connect(client.account_id, place=True)
        await answering.wait_rejected()
        assert answering.stats().connection_state == "new"
    finally:
        sio.emit = real_emit
    await calling.restart_ice()  # seq 2: opens
    await answering.wait_connected()
    before = answering.stats().rejected_signals
    await real_emit("call.signal", seen[0], room=to_client)  # the original seq 1, again
    await answering.wait_for_rejections(before + 1)
    assert answering.stats().connection_state == "connected"

    # The client reloads: a new join, admitted again without the therapist. The relay replays the
    # therapist's first offer into the new join: it does not open (other keys), the new call does.
    await guest.close()
    await host.wait_member_state(client.account_id, ["away"])
    back = await Call.join(client, sid)
    assert back.state == "admitted"
    answering = await back.connect(therapist.account_id, place=False)
    await real_emit("call.signal", seen[0], room=to_client)
    await answering.wait_rejected()
    calling = await host.connect(client.account_id, place=True)
    await answering.wait_frames("video", 5)
    await calling.wait_frames("video", 5)
    await host.end()
    await back.close()


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
    # In the waiting room but not admitted: no signaling, no admitting others; TURN credentials for the
    # pre-call check only, valid two minutes; an invited client not in the room gets none.
    payload = base64.b64encode(secrets.token_bytes(200)).decode()
    therapist_peer = guest.member(therapist.account_id)
    assert therapist_peer is not None
    signal = {"session_id": sid, "to_peer": therapist_peer["peer"], "payload": payload}
    assert await _refusal(guest.conn.request("call.signal", signal)) == ("forbidden", "not_admitted")
    check = await client.api.request("POST", f"/sessions/{sid}/turn")
    assert check["expires_at"] <= _now() + 121_000
    assert await _refusal(no_consent.api.request("POST", f"/sessions/{sid}/turn")) == (
        "forbidden",
        "not_admitted",
    )
    assert await _refusal(guest.admit(client.account_id)) == ("forbidden", "not_host")
    # The therapist cannot signal to a device that is only waiting.
    await host.wait_member_state(client.account_id, ["waiting"])
    to_waiting = {**signal, "to_peer": (host.member(client.account_id) or {})["peer"]}
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
    # b sees a by an opaque handle only: never a's account or device id.
    assert {m.get("account_id") for m in state["members"]} == {therapist.account_id, b.account_id, None}
    assert a.account_id not in str(state) and a.device_id not in str(state)
    assert (await b.api.request("GET", f"/sessions/{sid}"))["participants"] == [b.account_id]

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
    username = str(guest_b.ice_servers()[0].username)  # TURN credentials once admitted, opaque user
    assert username.endswith(f":{guest_b.handle}") and b.account_id not in username
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
