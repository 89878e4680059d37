"""Generate tests/vectors/custodian.json: the records custodian of docs/PROTOCOL.md section 24.

Deterministic (every key, id and nonce from SHA-512 of a label), like scripts/gen_vault_vectors.py.
Usage: python scripts/gen_custodian_vectors.py [--check]   (--check: fail if the file would change)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _vectorfile import crypto_error, seeded, write_or_check

from crypto import custodian as cu
from crypto.vault import RecordKind

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "custodian.json"
Json = dict[str, Any]


det = seeded("custodian/")


def build() -> Json:
    secret = det("custodian-secret", 32)
    public = cu.public_key_of(secret)
    other_public = cu.public_key_of(det("other-custodian", 32))
    account = det("therapist-account", 16)
    copies: list[Json] = []
    bodies = [
        ("note", 1, '{"client":"' + "ab" * 16 + '","text":"Slept better this week."}'),
        ("edited note", 4, '{"client":"' + "ab" * 16 + '","text":"Caf\u00e9 on Tuesdays \u2014 calmer."}'),
        ("block boundary", 2**40, "x" * 159),
    ]
    for name, version, text in bodies:
        record_id, eph, nonce, body = (
            det(f"record/{name}", 16),
            det(f"ephemeral/{name}", 32),
            det(f"nonce/{name}", 24),
            text.encode(),
        )
        sealed = cu.seal_copy(
            public, account, record_id, version, RecordKind.NOTE, body, ephemeral_secret=eph, nonce=nonce
        )
        assert cu.open_copy(secret, account, record_id, version, sealed) == (RecordKind.NOTE, body)
        copies.append(
            {
                "name": name,
                "record_id": record_id.hex(),
                "version": version,
                "kind": int(RecordKind.NOTE),
                "body_utf8": body.hex(),
                "ephemeral_secret": eph.hex(),
                "nonce": nonce.hex(),
                "ad": cu.copy_ad(account, record_id, version, public).hex(),
                "sealed": sealed.hex(),
            }
        )
    first = copies[0]
    rid, sealed0 = bytes.fromhex(first["record_id"]), bytes.fromhex(first["sealed"])
    flipped = bytearray(sealed0)
    flipped[-1] ^= 1
    cases: list[tuple[str, bytes, bytes, bytes, int, bytes]] = [
        ("other custodian key", det("other-custodian", 32), account, rid, 1, sealed0),
        ("other account", secret, det("other-account", 16), rid, 1, sealed0),
        ("other record", secret, account, det("other-record", 16), 1, sealed0),
        ("older version", secret, account, rid, 2, sealed0),
        ("flipped bit", secret, account, rid, 1, bytes(flipped)),
    ]
    rejections = [
        {
            "name": name,
            "secret": s.hex(),
            "account_id": a.hex(),
            "record_id": r.hex(),
            "version": v,
            "sealed": x.hex(),
            "error": crypto_error(lambda s=s, a=a, r=r, v=v, x=x: cu.open_copy(s, a, r, v, x)),
        }
        for name, s, a, r, v, x in cases
    ]
    disclosure = cu.disclosure_text(public)
    terms = [
        {"name": "discloses", "text": "I keep what you say private.\n\n" + disclosure, "key": public.hex()},
        {"name": "silent", "text": "I keep what you say private.", "key": None},
        {
            "name": "two different keys",
            "text": disclosure + "\n" + cu.encode_public_key(other_public),
            "key": None,
        },
        {"name": "same key twice", "text": disclosure + "\n" + disclosure, "key": public.hex()},
        {"name": "truncated key", "text": cu.encode_public_key(public)[:-1], "key": None},
        {"name": "longer token", "text": cu.encode_public_key(public) + "A", "key": None},
    ]
    for t in terms:
        found = cu.disclosed_key(t["text"])
        assert (found.hex() if found else None) == t["key"], t["name"]
    return {
        "description": "Records custodian (docs/PROTOCOL.md section 24). Hex bytes; body_utf8: the body.",
        "secret": secret.hex(),
        "public": public.hex(),
        "public_text": cu.encode_public_key(public),
        "secret_text": cu.encode_secret_key(secret),
        "fingerprint": cu.custodian_fingerprint(public),
        "disclosure": disclosure,
        "account_id": account.hex(),
        "copies": copies,
        "rejections": rejections,
        "terms": terms,
    }


def main() -> int:
    return write_or_check(OUT, build(), ensure_ascii=True)


if __name__ == "__main__":
    sys.exit(main())
