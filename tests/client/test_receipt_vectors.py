"""The receipt vectors (tests/vectors/receipt.json), shared with the browser
(web-client/test/receipt.test.js)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from client.payload import Payload, PayloadError, Receipt
from crypto.limits import MAX_RECEIPT_IDS

ROOT = Path(__file__).parents[2]
VECTORS = json.loads((ROOT / "tests" / "vectors" / "receipt.json").read_text(encoding="utf-8"))


def test_the_limit_is_the_one_in_the_vectors_and_the_generator_is_current() -> None:
    assert VECTORS["max_receipt_ids"] == MAX_RECEIPT_IDS
    check = [sys.executable, str(ROOT / "scripts" / "gen_receipt_vectors.py"), "--check"]
    assert subprocess.run(check, check=False).returncode == 0, "run scripts/gen_receipt_vectors.py"


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_a_receipt_encodes_to_the_exact_payload(case: dict[str, Any]) -> None:
    receipt = Receipt(tuple(case["ids"]))
    encoded = Payload(receipt, VECTORS["sent_at"], VECTORS["to"], VECTORS["id"]).encode()
    assert encoded.decode() == case["payload"]
    assert Payload.decode(encoded).body == receipt


@pytest.mark.parametrize("case", VECTORS["refused_payloads"], ids=lambda c: c["name"])
def test_a_malformed_receipt_is_refused(case: dict[str, Any]) -> None:
    with pytest.raises(PayloadError):
        Payload.decode(case["payload"].encode())
