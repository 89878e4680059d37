"""The server's socket.io packet (server/_json.py) decides "binary or not" exactly as python-socketio does."""

from __future__ import annotations

from typing import Any

import socketio.packet

from server._json import JsonPacket

CASES: list[Any] = [
    None,
    "text",
    b"raw",
    bytearray(b"raw"),
    ["inbox", {"pos": 5}],
    [{"ok": True, "result": {"envelopes": [{"pos": 1, "ciphertext": "AAAA"}], "more": False}}],
    [{"ok": True, "result": {"envelopes": [{"pos": 1, "blob": b"\x00"}]}}],
    {"deep": [[[{"x": [1, 2, bytearray(b"y")]}]]]},
    ("tuple", b"not descended"),  # like the stock walk, tuples are not containers here
]


def test_binary_detection_matches_python_socketio() -> None:
    for data in CASES:
        assert JsonPacket.data_is_binary(data) == socketio.packet.Packet.data_is_binary(data), data


def test_a_binary_payload_still_goes_as_a_binary_event() -> None:
    pkt = JsonPacket(socketio.packet.EVENT, ["file", {"bytes": b"\x01\x02"}])
    assert pkt.packet_type == socketio.packet.BINARY_EVENT
    assert JsonPacket(socketio.packet.EVENT, ["inbox", {"pos": 1}]).packet_type == socketio.packet.EVENT
