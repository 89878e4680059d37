"""The file message vectors (tests/vectors/file_message.json), shared with the browser (web-client/test)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from client.file_pointer import FilePointer, MalformedFile, safe_file_name
from client.payload import Payload, PayloadError
from crypto import attachments
from crypto.errors import DecryptionFailed

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "file_message.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_valid_pointer_encodes_to_the_exact_payload(case: dict[str, Any]) -> None:
    pointer = FilePointer.from_wire(case["file"])
    assert pointer.to_wire() == case["file"]
    encoded = Payload(pointer, VECTORS["sent_at"], VECTORS["to"], VECTORS["id"]).encode()
    assert encoded.decode() == case["payload"]
    assert Payload.decode(encoded).body == pointer


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["name"])
def test_invalid_pointer_is_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(MalformedFile):
        FilePointer.from_wire(case["file"])
    doc = {"v": 2, "id": VECTORS["id"], "type": "file", "file": case["file"], "sent_at": 1}
    doc["to"] = VECTORS["to"]
    with pytest.raises(PayloadError):
        Payload.decode(json.dumps(doc).encode())


def test_roundtrip_encrypts_decrypts_and_refuses_a_flipped_bit() -> None:
    rt = VECTORS["roundtrip"]
    plaintext = bytes(i % 251 for i in range(rt["size"]))
    sink = io.BytesIO()
    ptr = attachments.encrypt_file(
        io.BytesIO(plaintext), sink, key=bytes.fromhex(rt["key"]), header=bytes.fromhex(rt["header"])
    )
    blob = sink.getvalue()
    assert len(blob) == rt["blob_length"] and hashlib.sha256(blob).hexdigest() == rt["blob_sha256"]
    file = FilePointer.from_wire(rt["file"])
    assert file.attachment == ptr
    assert Payload.decode(rt["payload"].encode()).body == file
    out = io.BytesIO()
    attachments.decrypt_file(io.BytesIO(blob), out, file.attachment)
    assert out.getvalue() == plaintext
    tampered = bytearray(blob)
    tampered[rt["tampered_byte"]] ^= 1
    with pytest.raises(DecryptionFailed):
        attachments.decrypt_file(io.BytesIO(bytes(tampered)), io.BytesIO(), file.attachment)


def test_safe_file_name_makes_any_name_acceptable() -> None:
    for raw in ("../../etc/passwd", "C:\\Users\\x\\a.pdf", "a\nb", "", "é" * 300):
        FilePointer("ab" * 16, bytes(32), bytes(32), 1, "text/plain", safe_file_name(raw))
    assert safe_file_name("../../etc/passwd") == "passwd"
