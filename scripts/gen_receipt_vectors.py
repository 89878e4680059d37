"""Generate tests/vectors/receipt.json: the delivery receipt payload of docs/PROTOCOL.md section 20.

Usage: python scripts/gen_receipt_vectors.py [--check]   (--check: fail if the file would change)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _vectorfile import write_or_check

from client.payload import Payload, PayloadError, Receipt
from crypto.limits import MAX_RECEIPT_IDS

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "receipt.json"
Json = dict[str, Any]
TO = "7f" * 16
SENT_AT = 1_767_225_600_000
RECEIPT_ID = "5e" * 16


def _ids(n: int) -> list[str]:
    return [f"{i:032x}" for i in range(1, n + 1)]


VALID = [("one message", _ids(1)), ("three messages", _ids(3)), ("a full page", _ids(MAX_RECEIPT_IDS))]
REFUSED: list[tuple[str, Any]] = [
    ("no ids", []),
    ("one id more than a page", _ids(MAX_RECEIPT_IDS + 1)),
    ("an id that is not hex", ["z" * 32]),
    ("an upper-case id", ["AB" * 16]),
    ("a short id", ["ab" * 15]),
    ("an id that is a number", [1]),
    ("ids that are not a list", "ab" * 16),
]


def _raw(ids: Any) -> str:
    doc = {"v": 2, "id": RECEIPT_ID, "type": "receipt", "ids": ids, "sent_at": SENT_AT, "to": TO}
    return json.dumps(doc, separators=(",", ":"))


def generate() -> Json:
    valid = []
    for name, ids in VALID:
        payload = Payload(Receipt(tuple(ids)), SENT_AT, TO, RECEIPT_ID).encode().decode()
        assert payload == _raw(ids)
        valid.append({"name": name, "ids": ids, "payload": payload})
    refused = []
    for name, ids in REFUSED:
        try:
            Payload.decode(_raw(ids).encode())
        except PayloadError:
            refused.append({"name": name, "payload": _raw(ids)})
        else:
            raise AssertionError(f"{name}: accepted")
    return {
        "description": "Delivery receipt payloads (PROTOCOL section 20): `valid[]` the exact payload a "
        "client emits for `ids` with `to`, `sent_at`, `id`; `refused_payloads[]` receipts a receiver drops.",
        "max_receipt_ids": MAX_RECEIPT_IDS,
        "to": TO,
        "sent_at": SENT_AT,
        "id": RECEIPT_ID,
        "valid": valid,
        "refused_payloads": refused,
    }


def main() -> int:
    return write_or_check(OUT, generate(), ensure_ascii=False)


if __name__ == "__main__":
    raise SystemExit(main())
