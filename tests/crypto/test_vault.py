"""The account vault's cryptography (docs/PROTOCOL.md section 22): tests/vectors/vault.json reproduced byte
for byte (the browser does the same in web-client/test/vault.test.js), and what a hostile server could try."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crypto import errors, vault

REPO = Path(__file__).resolve().parents[2]
DATA = json.loads((REPO / "tests" / "vectors" / "vault.json").read_text())
H = bytes.fromhex


def test_the_vectors_are_what_the_generator_makes() -> None:
    out = subprocess.run(
        [sys.executable, "scripts/gen_vault_vectors.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("case", DATA["records"], ids=lambda c: c["name"])
def test_records_seal_and_open_byte_for_byte(case: dict[str, object]) -> None:
    key, account = H(DATA["vault_key"]), H(DATA["account_id"])
    rid, version = H(str(case["record_id"])), int(str(case["version"]))
    kind = vault.RecordKind(int(str(case["kind"])))
    sealed = vault.seal_record(
        key, account, rid, version, kind, H(str(case["body_utf8"])), nonce=H(str(case["nonce"]))
    )
    assert sealed.hex() == case["sealed"]
    assert vault.open_record(key, account, rid, version, sealed) == (kind, H(str(case["body_utf8"])))


@pytest.mark.parametrize("case", DATA["record_rejections"], ids=lambda c: c["name"])
def test_a_moved_rolled_back_or_altered_record_is_refused(case: dict[str, str]) -> None:
    account = H(case.get("account_id", DATA["account_id"]))
    with pytest.raises(getattr(errors, case["error"])):
        vault.open_record(
            H(DATA["vault_key"]), account, H(case["record_id"]), int(case["version"]), H(case["sealed"])
        )


def test_the_server_sees_neither_kind_nor_exact_length() -> None:
    key, account, rid = os.urandom(32), os.urandom(16), os.urandom(16)
    note = vault.seal_record(key, account, rid, 1, vault.RecordKind.NOTE, b"short")
    name = vault.seal_record(key, account, rid, 1, vault.RecordKind.CONTACT, b"other text")
    assert len(note) == len(name)  # padded to 160-byte blocks; the kind is inside the ciphertext
    with pytest.raises(errors.DecryptionFailed):
        vault.open_record(os.urandom(32), account, rid, 1, note)  # another vault key


def test_recovery_key_text_and_typos() -> None:
    r = DATA["recovery"]
    assert vault.recovery_key_text(H(r["key"])) == r["text"]
    assert len(r["text"]) == 39 and r["text"].count("-") == 7
    for typed in [r["text"], *r["typed_forms"]]:
        assert vault.parse_recovery_key(typed) == H(r["key"])
    for bad in r["bad_texts"]:
        with pytest.raises(getattr(errors, bad["error"])):
            vault.parse_recovery_key(bad["text"])
    # Every single-character substitution is caught by the checksum (or is not a key character at all).
    text = r["text"].replace("-", "")
    for i in range(0, 32, 3):
        wrong = text[:i] + ("Z" if text[i] != "Z" else "Y") + text[i + 1 :]
        with pytest.raises(errors.InvalidKey):
            vault.parse_recovery_key(wrong)


def test_recovery_derivations_and_backup() -> None:
    r = DATA["recovery"]
    keys = vault.derive_recovery(H(r["key"]))
    assert (keys.lookup_id.hex(), keys.authenticator.hex(), keys.verifier.hex(), keys.wrap_key.hex()) == (
        r["lookup_id"],
        r["authenticator"],
        r["verifier"],
        r["wrap_key"],
    )
    secrets = {int(k): H(v) for k, v in r["secrets"].items()}
    account = H(DATA["account_id"])
    assert vault.encode_secrets(account, secrets).hex() == r["secrets_encoded"]
    assert vault.seal_backup(H(r["key"]), account, secrets, nonce=H(r["nonce"])).hex() == r["sealed_backup"]
    assert vault.open_backup(H(r["key"]), account, H(r["sealed_backup"])) == secrets
    with pytest.raises(getattr(errors, r["wrong_key"]["error"])):
        vault.open_backup(H(r["wrong_key"]["key"]), account, H(r["sealed_backup"]))
    with pytest.raises(errors.DecryptionFailed):  # a server handing this backup out for another account
        vault.open_backup(H(r["key"]), os.urandom(16), H(r["sealed_backup"]))


def test_malformed_secrets_are_refused() -> None:
    account = os.urandom(16)
    good = vault.encode_secrets(account, {1: os.urandom(32), 5: b"x"})
    assert vault.decode_secrets(good)[1][5] == b"x"
    swapped = good[:18] + good[18 + 35 :] + good[18 : 18 + 35]  # entries out of order
    for bad in (good + b"\x00", good[:-1], swapped, good[:17] + b"\x11" + good[18:]):
        with pytest.raises(errors.MalformedState):
            vault.decode_secrets(bad)
    with pytest.raises(errors.MalformedState):
        vault.decode_secrets(vault.encode_secrets(account, {1: b"short vault key"}))
