"""The sealed call control vectors (tests/vectors/call_control.json), shared with the browser
(web-client/test/fallback.test.js): the SDK sends the audio_only message byte for byte as the browser does,
its channel routes it as a control message, and it reads a peer's wish the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from client.call_channel import _control_kind
from client.fallback import audio_only_message, remote_reason

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "call_control.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", VECTORS["audio_only"]["sent"], ids=lambda c: str(c["reason"]))
def test_the_audio_only_message_is_the_exact_bytes(case: dict[str, Any]) -> None:
    wire = json.dumps(audio_only_message(case["reason"]), separators=(",", ":"))  # as SealedChannel sends it
    assert wire == case["wire"]
    assert _control_kind(wire.encode()) == "audio_only"


@pytest.mark.parametrize("case", VECTORS["audio_only"]["received"], ids=lambda c: c["name"])
def test_a_received_wish_reads_the_same(case: dict[str, Any]) -> None:
    assert remote_reason(json.loads(case["wire"])) == case["remote_reason"]
    assert _control_kind(case["wire"].encode()) == "audio_only"
