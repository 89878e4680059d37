"""The vault's conversation history (docs/PROTOCOL.md section 22.6) follows tests/vectors/vault.json: how two
item lists merge and where chunks split. The browser checks the same file (web-client/test/vault.test.js)."""

from __future__ import annotations

import json
from pathlib import Path

from client.history import merge_items, split_chunks

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "vault.json").read_text())["history"]


def test_merge_keeps_the_first_copy_and_sorts_by_time_then_id() -> None:
    m = VECTORS["merge"]
    assert merge_items(m["existing"], m["new"]) == m["merged"]


def test_chunks_split_by_count_and_by_bytes() -> None:
    for case in VECTORS["split"]:
        items = [
            {"id": f"{i:032x}", "from": "ab" * 16, "at": 1000 + i, "text": "x" * n}
            for i, n in enumerate(case["sizes"])
        ]
        assert [len(c) for c in split_chunks(items)] == case["chunk_lengths"], case["name"]
