"""The records custodian's cryptography (docs/PROTOCOL.md section 24): tests/vectors/custodian.json reproduced
byte for byte (the browser does the same in web-client/test/custodian.test.js); only the custodian's offline
key opens a copy, and only as the record and version it was written for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crypto import custodian as cu
from crypto import errors
from crypto.vault import RecordKind

REPO = Path(__file__).resolve().parents[2]
DATA = json.loads((REPO / "tests" / "vectors" / "custodian.json").read_text())


def H(value: Any) -> bytes:
    return bytes.fromhex(str(value))


def test_the_vector_file_is_what_the_generator_writes() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/gen_custodian_vectors.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_keys_fingerprint_and_disclosure_text() -> None:
    secret, public = H(DATA["secret"]), H(DATA["public"])
    assert cu.public_key_of(secret) == public
    assert cu.encode_public_key(public) == DATA["public_text"]
    assert cu.decode_public_key(DATA["public_text"]) == public
    assert cu.decode_secret_key(DATA["secret_text"]) == secret
    assert cu.custodian_fingerprint(public) == DATA["fingerprint"]
    assert cu.disclosure_text(public) == DATA["disclosure"]
    with pytest.raises(errors.InvalidKey):
        cu.decode_secret_key(DATA["public_text"])  # a public key file is not the private key


@pytest.mark.parametrize("case", DATA["copies"], ids=lambda c: c["name"])
def test_copies_seal_and_open_byte_for_byte(case: dict[str, Any]) -> None:
    account, rid, version = H(DATA["account_id"]), H(case["record_id"]), int(case["version"])
    body = H(case["body_utf8"])
    assert cu.copy_ad(account, rid, version, H(DATA["public"])).hex() == case["ad"]
    sealed = cu.seal_copy(
        H(DATA["public"]),
        account,
        rid,
        version,
        RecordKind.NOTE,
        body,
        ephemeral_secret=H(case["ephemeral_secret"]),
        nonce=H(case["nonce"]),
    )
    assert sealed.hex() == case["sealed"]
    assert cu.open_copy(H(DATA["secret"]), account, rid, version, sealed) == (RecordKind.NOTE, body)


@pytest.mark.parametrize("case", DATA["rejections"], ids=lambda c: c["name"])
def test_a_copy_opens_only_with_its_key_account_record_and_version(case: dict[str, Any]) -> None:
    with pytest.raises(getattr(errors, case["error"])):
        cu.open_copy(
            H(case["secret"]),
            H(case["account_id"]),
            H(case["record_id"]),
            int(case["version"]),
            H(case["sealed"]),
        )


@pytest.mark.parametrize("case", DATA["terms"], ids=lambda c: c["name"])
def test_the_key_terms_disclose(case: dict[str, Any]) -> None:
    found = cu.disclosed_key(case["text"])
    assert (found.hex() if found else None) == case["key"]


def test_each_copy_uses_a_fresh_ephemeral_key() -> None:
    secret, public = cu.new_custodian_keypair()
    account, rid = bytes(16), bytes(range(16))
    one = cu.seal_copy(public, account, rid, 1, RecordKind.NOTE, b"same words")
    two = cu.seal_copy(public, account, rid, 1, RecordKind.NOTE, b"same words")
    assert one[1:33] != two[1:33] and one != two
    assert cu.open_copy(secret, account, rid, 1, two) == (RecordKind.NOTE, b"same words")
