"""The schedule notice vectors (tests/vectors/schedule_notice.json), shared with the browser
(web-client/test/schedule.test.js): the SDK writes the same words when a session is scheduled, moved or
cancelled, in the sender's time zone with its offset named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from client.schedule import cancelled_text, local_offset_minutes, moved_text, scheduled_text, when_text

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "schedule_notice.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_notice_text_matches_the_vector(case: dict[str, Any]) -> None:
    offset = case["offset_minutes"]
    if case["event"] == "scheduled":
        text = scheduled_text(case["session"], case["weeks"], offset)
    elif case["event"] == "moved":
        text = moved_text(case["session"], case["moved_to"], offset)
    else:
        text = cancelled_text(case["session"], offset)
    assert text == case["text"]


def test_without_an_offset_the_machine_zone_is_named() -> None:
    at = VECTORS["cases"][0]["session"]
    offset = local_offset_minutes(at["starts_at"])
    assert when_text(at["starts_at"], at["ends_at"]) == when_text(at["starts_at"], at["ends_at"], offset)
