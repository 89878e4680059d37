"""Generate tests/vectors/names.json: the profile payload and the name rules of docs/PROTOCOL.md section 23.

Usage: python scripts/gen_name_vectors.py [--check]   (--check: fail if the file would change)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _vectorfile import write_or_check

from client.names import InvalidName, Profile, check_name
from client.payload import Payload, PayloadError
from client.vault import _encode
from crypto.limits import MAX_NAME_CHARS

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "names.json"
Json = dict[str, Any]
TO = "7f" * 16
SENT_AT = 1_767_225_600_000
MESSAGE_ID = "5e" * 16
ACCOUNT = "cd" * 16
INVITATION = "ab" * 16

VALID = [
    ("plain", "Dr. Maya Lind"),
    ("accents", "Ana Pérez"),
    ("quotes and backslash", 'Sam "Sunny" O\'Neil \\ Jr'),
    ("right-to-left letters", "ليلى أحمد"),
    ("emoji sequence with a joiner", "\U0001f469\u200d\u2695\ufe0f Dr Lind"),
    ("longest, in code points", "\U0001f33f" * MAX_NAME_CHARS),
    ("inner spaces kept as typed", " Maya  Lind "),
]
INVALID: list[tuple[str, Any]] = [
    ("empty", ""),
    ("only spaces", " \u00a0 \u3000"),
    ("one too long", "x" * (MAX_NAME_CHARS + 1)),
    ("one too long, astral", "\U0001f33f" * (MAX_NAME_CHARS + 1)),
    ("line break", "Maya\nLind"),
    ("tab", "Maya\tLind"),
    ("delete character", "Maya\x7fLind"),
    ("line separator", "Maya\u2028Lind"),
    ("right-to-left override", "Maya \u202eLind"),
    ("isolate", "\u2067Maya\u2069"),
    ("byte order mark", "\ufeffMaya"),
    ("not text", 42),
]


def _payload(name: str) -> str:
    return Payload(Profile(name), SENT_AT, TO, MESSAGE_ID).encode().decode()


def _invalid(name: str, value: Any) -> Json:
    try:
        check_name(value)
    except InvalidName:
        return {"name": name, "display_name": value, "error": "InvalidName"}
    raise AssertionError(f"{name} was accepted")


def _refused_payload(name: str, doc: Json) -> Json:
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    try:
        Payload.decode(raw.encode())
    except PayloadError:
        return {"name": name, "payload": raw}
    raise AssertionError(f"{name} was accepted")


def generate() -> Json:
    base = {"v": 2, "id": MESSAGE_ID, "type": "profile", "sent_at": SENT_AT, "to": TO}
    records = [
        ("own name for a contact", {"account_id": ACCOUNT, "name": "Ana Pérez"}),
        ("name typed at invitation", {"invitation_id": INVITATION, "name": "Ana Pérez"}),
        ("invitation name bound", {"account_id": ACCOUNT, "invitation_id": INVITATION, "name": "Ana Pérez"}),
        ("display name received", {"account_id": ACCOUNT, "display_name": "Dr. Maya Lind"}),
        ("own display name", {"display_name": "Dr. Maya Lind"}),
    ]
    return {
        "description": (
            "Profile payloads (PROTOCOL section 23): `valid[]` display names and the exact payload a client "
            "emits for them with `to`, `sent_at`, `id`; `invalid[]` names refused with InvalidName by the "
            "sender and by the receiver; `refused_payloads[]` profile payloads a receiver drops; "
            "`records[]` vault record bodies (compact JSON) for names."
        ),
        "max_name_chars": MAX_NAME_CHARS,
        "to": TO,
        "sent_at": SENT_AT,
        "id": MESSAGE_ID,
        "valid": [{"name": n, "display_name": v, "payload": _payload(v)} for n, v in VALID],
        "invalid": [_invalid(n, v) for n, v in INVALID],
        "refused_payloads": [
            _refused_payload("no display name", base),
            _refused_payload("display name too long", {**base, "display_name": "x" * (MAX_NAME_CHARS + 1)}),
            _refused_payload("display name with a line break", {**base, "display_name": "a\nb"}),
            _refused_payload("display name not text", {**base, "display_name": ["Maya"]}),
        ],
        "records": [{"name": n, "body": b, "body_utf8": _encode(b).decode()} for n, b in records],
    }


def main() -> int:
    return write_or_check(OUT, generate(), ensure_ascii=False)


if __name__ == "__main__":
    raise SystemExit(main())
