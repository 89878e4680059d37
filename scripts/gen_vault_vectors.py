"""Generate tests/vectors/vault.json: the account vault of docs/PROTOCOL.md section 22.

Deterministic (every key, id and nonce from SHA-512 of a label), like scripts/gen_vectors.py.
Usage: python scripts/gen_vault_vectors.py [--check]   (--check: fail if the file would change)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _vectorfile import crypto_error, seeded, write_or_check

from client import history
from crypto import vault

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "vault.json"
Json = dict[str, Any]


det = seeded("vault/")


def build() -> Json:
    vault_key = det("vault-key", 32)
    account = det("account", 16)
    records: list[Json] = []
    bodies = [
        ("note", vault.RecordKind.NOTE, 1, '{"client":"' + "ab" * 16 + '","text":"Slept better this week."}'),
        (
            "contact",
            vault.RecordKind.CONTACT,
            3,
            '{"account_id":"' + "cd" * 16 + '","name":"Ana P\u00e9rez"}',
        ),
        ("profile-empty", vault.RecordKind.PROFILE, 2**40, ""),
        ("block-boundary", vault.RecordKind.NOTE, 7, "x" * 159),
        (
            "history",
            vault.RecordKind.HISTORY,
            4,
            '{"conversation":"'
            + "cd" * 16
            + '","chunk":0,"messages":[{"id":"'
            + "01" * 16
            + '","from":"'
            + "cd" * 16
            + '","at":1767225600000,"text":"Can we move Thursday?"}]}',
        ),
    ]
    for name, kind, version, text in bodies:
        record_id, nonce, body = det(f"record/{name}", 16), det(f"nonce/{name}", 24), text.encode()
        sealed = vault.seal_record(vault_key, account, record_id, version, kind, body, nonce=nonce)
        assert vault.open_record(vault_key, account, record_id, version, sealed) == (kind, body)
        records.append(
            {
                "name": name,
                "record_id": record_id.hex(),
                "version": version,
                "kind": int(kind),
                "body_utf8": body.hex(),
                "nonce": nonce.hex(),
                "ad": vault.record_ad(account, record_id, version).hex(),
                "sealed": sealed.hex(),
            }
        )
    first = records[0]
    rid, sealed0 = bytes.fromhex(first["record_id"]), bytes.fromhex(first["sealed"])
    flipped = bytearray(sealed0)
    flipped[-1] ^= 1
    rejections = [
        {"name": "older version", "version": 2, "record_id": first["record_id"], "sealed": first["sealed"]},
        {
            "name": "other record id",
            "version": 1,
            "record_id": det("other", 16).hex(),
            "sealed": first["sealed"],
        },
        {
            "name": "flipped bit",
            "version": 1,
            "record_id": first["record_id"],
            "sealed": bytes(flipped).hex(),
        },
        {
            "name": "unknown version",
            "version": 1,
            "record_id": first["record_id"],
            "sealed": "02" + first["sealed"][2:],
        },
    ]
    for r in rejections:
        r["error"] = crypto_error(
            lambda r=r: vault.open_record(
                vault_key, account, bytes.fromhex(r["record_id"]), r["version"], bytes.fromhex(r["sealed"])
            )
        )
    rejections.append(
        {
            "name": "other account",
            "account_id": det("other-account", 16).hex(),
            "version": 1,
            "record_id": first["record_id"],
            "sealed": first["sealed"],
            "error": crypto_error(
                lambda: vault.open_record(vault_key, det("other-account", 16), rid, 1, sealed0)
            ),
        }
    )

    recovery = det("recovery-key", 16)
    text = vault.recovery_key_text(recovery)
    keys = vault.derive_recovery(recovery)
    secrets = {vault.SECRET_VAULT_KEY: vault_key, 0x02: det("account-seed", 32), 0x7F: b"kept as is"}
    backup_nonce = det("backup-nonce", 24)
    sealed_backup = vault.seal_backup(recovery, account, secrets, nonce=backup_nonce)
    typo = text[:-1] + ("0" if text[-1] != "0" else "1")
    return {
        "description": "Account vault (docs/PROTOCOL.md section 22). Hex bytes; body_utf8: the body.",
        "history": _history(),
        "vault_key": vault_key.hex(),
        "account_id": account.hex(),
        "records": records,
        "record_rejections": rejections,
        "recovery": {
            "key": recovery.hex(),
            "text": text,
            "typed_forms": [text.lower().replace("-", " "), text.replace("0", "O").replace("1", "l")],
            "lookup_id": keys.lookup_id.hex(),
            "authenticator": keys.authenticator.hex(),
            "verifier": keys.verifier.hex(),
            "wrap_key": keys.wrap_key.hex(),
            "secrets": {str(k): v.hex() for k, v in sorted(secrets.items())},
            "secrets_encoded": vault.encode_secrets(account, secrets).hex(),
            "nonce": backup_nonce.hex(),
            "sealed_backup": sealed_backup.hex(),
            "bad_texts": [
                {"text": typo, "error": crypto_error(lambda: vault.parse_recovery_key(typo))},
                {"text": text[:-5], "error": crypto_error(lambda: vault.parse_recovery_key(text[:-5]))},
                {
                    "text": "U" + text[1:],
                    "error": crypto_error(lambda: vault.parse_recovery_key("U" + text[1:])),
                },
            ],
            "wrong_key": {
                "key": det("wrong-recovery-key", 16).hex(),
                "error": crypto_error(
                    lambda: vault.open_backup(det("wrong-recovery-key", 16), account, sealed_backup)
                ),
            },
        },
    }


def _history() -> Json:
    """Section 22.6: merging two lists of history items, and where chunks split (items built from sizes:
    item i = {"id": i as 32 hex, "from": "ab" * 16, "at": 1000 + i, "text": "x" * size})."""
    a, b = "ab" * 16, "cd" * 16
    existing = [
        {"id": "02" * 16, "from": a, "at": 2000, "text": "kept as it is"},
        {"id": "01" * 16, "from": b, "at": 1000, "text": "first"},
    ]
    new = [
        {"id": "02" * 16, "from": a, "at": 2000, "text": "a copy never replaces"},
        {"id": "03" * 16, "from": b, "at": 2000, "file": "sleep-diary.pdf"},
        {"id": "00" * 16, "from": a, "at": 1500, "text": "written later, sent earlier: \u00e9t\u00e9"},
    ]
    cases = []
    for name, sizes in [
        ("by count", [1] * 205),
        ("by bytes", [20000, 20000, 20000, 10]),
        ("one large item", [47000]),
    ]:
        items = [{"id": f"{i:032x}", "from": a, "at": 1000 + i, "text": "x" * n} for i, n in enumerate(sizes)]
        cases.append(
            {"name": name, "sizes": sizes, "chunk_lengths": [len(c) for c in history.split_chunks(items)]}
        )
    return {
        "merge": {"existing": existing, "new": new, "merged": history.merge_items(existing, new)},
        "split": cases,
    }


def main() -> int:
    return write_or_check(OUT, build(), ensure_ascii=True)


if __name__ == "__main__":
    sys.exit(main())
