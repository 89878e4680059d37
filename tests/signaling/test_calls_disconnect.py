"""A participant whose socket drops is shown away (attendance closed, the others told) and comes back on the
same device without a new admission while the session is open: the real app."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from client.calls import Call, CallConnection, schedule_session
from client.device import Device
from tests.server._kit import eventually
from tests.signaling._kit import CallServer, serve


@pytest.fixture
async def room_server(tmp_path: Path) -> AsyncIterator[CallServer]:
    """The real app in-process, without TURN: these tests exercise the room, not media."""
    async with serve(tmp_path, None) as srv:
        yield srv


def _room(conn: CallConnection, session_id: str) -> dict[str, str]:
    """account_id -> state in the latest ``call.state`` this connection received (ids it may see)."""
    states = [d for n, d in conn.pushes if n == "call.state" and d.get("session_id") == session_id]
    return {m.get("account_id"): m["state"] for m in states[-1]["members"]} if states else {}


async def _wait_member(conn: CallConnection, session_id: str, account_id: str, state: str) -> None:
    await conn.wait_until(
        lambda: _room(conn, session_id).get(account_id) == state, 15.0, f"{account_id} {state}"
    )


async def _in_call(srv: CallServer) -> tuple[Device, Device, str, Call, Call]:
    therapist = await srv.therapist()
    client = await srv.client(therapist)
    sid = (await schedule_session(therapist, [client.account_id]))["session_id"]
    host = await Call.join(therapist, sid)
    guest = await Call.join(client, sid)
    assert await host.next_waiting() == client.account_id
    await host.admit(client.account_id)
    await guest.wait_admitted()
    return therapist, client, sid, host, guest


async def test_a_client_whose_socket_drops_is_away_then_back_without_a_new_admission(
    room_server: CallServer,
) -> None:
    therapist, client, sid, host, guest = await _in_call(room_server)

    await guest.close()  # the socket closes without call.leave (a reload, a network switch)
    await _wait_member(host.conn, sid, client.account_id, "away")
    attendance = (await therapist.api.request("GET", f"/sessions/{sid}/attendance"))["attendance"]
    row = next(a for a in attendance if a["account_id"] == client.account_id)
    assert row["left_at"] is not None and row["left_at"] >= row["joined_at"]

    # Back on the same device with a fresh join: admitted at once, the therapist is told.
    back = await Call.join(client, sid)
    assert back.state == "admitted" and back.joined["turn"] is None  # no TURN configured here
    await _wait_member(host.conn, sid, client.account_id, "admitted")
    shown = host.member(client.account_id)  # the therapist now seals to the new join only
    assert shown is not None and shown["join"] == base64.b64encode(back.own.statement.to_bytes()).decode()
    attendance = (await therapist.api.request("GET", f"/sessions/{sid}/attendance"))["attendance"]
    rows = [a for a in attendance if a["account_id"] == client.account_id]
    assert len(rows) == 2 and rows[1]["left_at"] is None  # a second attendance row, open

    # An explicit leave is final for this admission: coming back means the waiting room.
    await back.leave()
    await _wait_member(host.conn, sid, client.account_id, "left")
    again = await Call.join(client, sid)
    assert again.state == "waiting"
    await host.end()
    await again.close()


async def test_a_therapist_whose_socket_drops_is_shown_away_and_rejoins_admitted(
    room_server: CallServer,
) -> None:
    therapist, client, sid, host, guest = await _in_call(room_server)

    await host.close()
    await _wait_member(guest.conn, sid, therapist.account_id, "away")
    back = await Call.join(therapist, sid)
    assert back.state == "admitted"  # the host needs nobody's admission
    await _wait_member(guest.conn, sid, therapist.account_id, "admitted")
    assert _room(guest.conn, sid)[client.account_id] == "admitted"  # the client was never sent back
    await back.end()
    await guest.close()


async def test_only_the_last_socket_of_the_device_makes_it_leave(room_server: CallServer) -> None:
    _, client, sid, host, guest = await _in_call(room_server)
    other = CallConnection(client)  # the same device, a second socket (e.g. a second tab)
    await other.connect()
    connections = room_server.ctx.connections
    assert connections.count(client.device_id) == 2

    await guest.close()
    # Once the server counted the close, nothing else can happen: the hook runs only on the last one.
    await eventually(lambda: connections.count(client.device_id) == 1)
    room = await host.report_media(False)  # any room request answers the current room
    assert {m["account_id"]: m["state"] for m in room["members"]}[client.account_id] == "admitted"

    await other.close()
    await _wait_member(host.conn, sid, client.account_id, "away")
    await host.end()
