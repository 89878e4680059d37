"""``confidant custodian``: the practice's records custodian, from key generation to opening notes.

    confidant custodian keygen --out custodian.key     the offline key pair: the private key to a file
                                                       (mode 0600), the public key and fingerprint printed
    confidant custodian export --account ID --out F    on the server host: the custodian copies of a
                                                       therapist's notes, still sealed (no key needed)
    confidant custodian open --key custodian.key F     on the offline machine: the notes, as JSON
    confidant custodian purge --account ID             on the server host: delete them once the duty ends

``keygen`` and ``open`` never touch a server: the private key stays on the machine that keeps it offline.
The copies' format is docs/PROTOCOL.md section 24; the procedure is docs/OPERATIONS.md, "Records custodian".
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from crypto import custodian as cu
from crypto.errors import CryptoError
from storage.custodian import CustodianCopy

__all__ = ["EXPORT_FORMAT", "add_custodian_parser", "export_document", "open_export", "run_offline"]

EXPORT_FORMAT = "confidant-custodian-export-v1"


def add_custodian_parser(commands: Any, common: Any) -> None:
    parser = commands.add_parser("custodian", help="the practice's records custodian (docs/OPERATIONS.md)")
    sub = parser.add_subparsers(dest="custodian_command", required=True, metavar="CUSTODIAN_COMMAND")
    keygen = sub.add_parser("keygen", help="make the offline custodian key pair")
    keygen.add_argument("--out", type=Path, required=True, help="file for the private key (must not exist)")
    export = sub.add_parser("export", help="write a therapist's sealed custodian copies to a file")
    common(export)
    export.add_argument("--account", required=True, help="the therapist's account id (32 hex)")
    export.add_argument("--out", type=Path, required=True, help="the export file (JSON, still sealed)")
    opened = sub.add_parser("open", help="decrypt an export with the offline private key")
    opened.add_argument("--key", type=Path, required=True, help="the private key file from keygen")
    opened.add_argument("export", type=Path, help="the file `custodian export` wrote")
    purge = sub.add_parser("purge", help="delete a therapist's custodian copies from the server")
    common(purge)
    purge.add_argument("--account", required=True, help="the therapist's account id (32 hex)")


def export_document(account_id: str, copies: list[CustodianCopy]) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "account_id": account_id,
        "copies": [
            {
                "record_id": c.record_id,
                "version": c.version,
                "custodian_key": cu.encode_public_key(c.custodian_key),
                "written_at": c.written_at,
                "ciphertext": base64.b64encode(c.ciphertext).decode(),
            }
            for c in copies
        ],
    }


def open_export(secret: bytes, document: dict[str, Any]) -> dict[str, Any]:
    """The notes an export holds, opened with the offline key; copies it cannot open are listed apart."""
    if document.get("format") != EXPORT_FORMAT:
        raise ValueError("not a custodian export")
    account_id = str(document["account_id"])
    mine = cu.encode_public_key(cu.public_key_of(secret))
    notes: list[dict[str, Any]] = []
    unopened: list[dict[str, Any]] = []
    for c in document["copies"]:
        if c["custodian_key"] != mine:
            unopened.append({"record_id": c["record_id"], "reason": "sealed to another custodian key"})
            continue
        try:
            _, body = cu.open_copy(
                secret,
                bytes.fromhex(account_id),
                bytes.fromhex(c["record_id"]),
                int(c["version"]),
                base64.b64decode(c["ciphertext"]),
            )
            note = json.loads(body)
        except (CryptoError, ValueError):
            unopened.append({"record_id": c["record_id"], "reason": "altered or moved: does not open"})
            continue
        notes.append({"record_id": c["record_id"], "version": c["version"], "note": note})
    notes.sort(key=lambda n: (str(n["note"].get("client", "")), int(n["note"].get("created_at", 0))))
    return {"account_id": account_id, "notes": notes, "unopened": unopened}


def _keygen(out: Path) -> int:
    secret, public = cu.new_custodian_keypair()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"confidant: {out} exists; refusing to overwrite a custodian key", file=sys.stderr)
        return 1
    with os.fdopen(fd, "w") as f:
        f.write(cu.encode_secret_key(secret) + "\n")
    print(f"private key written to {out} (keep it offline; whoever holds it can read the copies)")
    print(f"public key:  {cu.encode_public_key(public)}")
    print(f"fingerprint: {cu.custodian_fingerprint(public)}")
    return 0


def _open(key_file: Path, export: Path) -> int:
    try:
        secret = cu.decode_secret_key(key_file.read_text())
        opened = open_export(secret, json.loads(export.read_text()))
    except (OSError, ValueError, KeyError, CryptoError) as exc:
        print(f"confidant: cannot open the export: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(opened, indent=1, ensure_ascii=False))
    return 0 if not opened["unopened"] else 3


def run_offline(args: argparse.Namespace) -> int:
    """``keygen`` and ``open``: no settings, no storage, no network."""
    if args.custodian_command == "keygen":
        return _keygen(args.out)
    return _open(args.key, args.export)
