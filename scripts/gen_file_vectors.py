"""Generate tests/vectors/file_message.json: the file message of docs/PROTOCOL.md section 11.

Deterministic (every key and header from SHA-512 of a label), like scripts/gen_vectors.py.
Usage: python scripts/gen_file_vectors.py [--check]   (--check: fail if the file would change)
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _vectorfile import seeded, write_or_check

from client.file_pointer import FilePointer, MalformedFile
from client.payload import Payload
from crypto import attachments
from crypto.limits import MAX_ATTACHMENT_BYTES, MAX_FILE_NAME_BYTES, MAX_THUMBNAIL_BYTES

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "file_message.json"
Json = dict[str, Any]
TO = "7f" * 16
SENT_AT = 1_767_225_600_000
MESSAGE_ID = "5e" * 16  # the authenticated message id inside the payload (protocol version 2)


_seed = seeded("file/")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _jpeg(size: int) -> bytes:
    return (b"\xff\xd8\xff\xe0" + _seed("thumb", 64) * (size // 64 + 1))[:size]


def _wire(**over: Any) -> Json:
    doc: Json = {
        "blob_id": _seed("blob", 16).hex(),
        "key": _b64(_seed("key")),
        "digest": _b64(_seed("digest")),
        "size": 1234,
        "content_type": "application/pdf",
        "name": "worksheet.pdf",
    }
    for k, v in over.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    return doc


def _valid(name: str, file: Json) -> Json:
    pointer = FilePointer.from_wire(file)
    payload = Payload(pointer, SENT_AT, TO, MESSAGE_ID).encode().decode()
    return {"name": name, "file": file, "payload": payload}


def _invalid(name: str, file: Any) -> Json:
    try:
        FilePointer.from_wire(file)
    except MalformedFile:
        return {"name": name, "file": file, "error": "MalformedFile"}
    raise AssertionError(f"{name} was accepted")


def _pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def generate() -> Json:
    long_name = "é" * 127 + ".t"  # 256 UTF-8 bytes: one too many
    valid = [
        _valid("pdf", _wire()),
        _valid(
            "image with thumbnail",
            _wire(content_type="image/jpeg", name="journal page.jpg", thumbnail=_b64(_jpeg(3000))),
        ),
        _valid("unicode name", _wire(content_type="text/plain", name="Brief an Frau Müller \u2013 日記.txt")),
        _valid("empty file", _wire(size=0, content_type="application/octet-stream", name="empty")),
        _valid("largest size", _wire(size=MAX_ATTACHMENT_BYTES)),
        _valid("longest name", _wire(name="n" * MAX_FILE_NAME_BYTES)),
        _valid(
            "largest thumbnail", _wire(content_type="image/png", thumbnail=_b64(_jpeg(MAX_THUMBNAIL_BYTES)))
        ),
    ]
    invalid = [
        _invalid("not an object", "worksheet.pdf"),
        _invalid("missing digest", _wire(digest=None)),
        _invalid("uppercase blob id", _wire(blob_id=_seed("blob", 16).hex().upper())),
        _invalid("short blob id", _wire(blob_id="ab" * 15)),
        _invalid("short key", _wire(key=_b64(_seed("key")[:31]))),
        _invalid("digest not base64", _wire(digest="not base64!")),
        _invalid("negative size", _wire(size=-1)),
        _invalid("size too large", _wire(size=MAX_ATTACHMENT_BYTES + 1)),
        _invalid("size as text", _wire(size="1234")),
        _invalid("fractional size", _wire(size=12.5)),
        _invalid("uppercase content type", _wire(content_type="Application/PDF")),
        _invalid("content type with parameters", _wire(content_type="text/plain; charset=utf-8")),
        _invalid("content type without subtype", _wire(content_type="text")),
        _invalid("empty name", _wire(name="")),
        _invalid("name with a slash", _wire(name="../../etc/passwd")),
        _invalid("name with a backslash", _wire(name="..\\boot.ini")),
        _invalid("name with a control character", _wire(name="a\nb.txt")),
        _invalid("name too long", _wire(name=long_name)),
        _invalid("thumbnail on a pdf", _wire(thumbnail=_b64(_jpeg(100)))),
        _invalid(
            "thumbnail not a jpeg", _wire(content_type="image/png", thumbnail=_b64(b"\x89PNG" + bytes(60)))
        ),
        _invalid(
            "thumbnail too large",
            _wire(content_type="image/png", thumbnail=_b64(_jpeg(MAX_THUMBNAIL_BYTES + 1))),
        ),
    ]
    size = 70_000  # two chunks: a full one and a final short one
    key, header = _seed("roundtrip/key"), _seed("roundtrip/header", 24)
    sink = io.BytesIO()
    ptr = attachments.encrypt_file(io.BytesIO(_pattern(size)), sink, key=key, header=header)
    blob = sink.getvalue()
    file = FilePointer(
        _seed("roundtrip/blob", 16).hex(), ptr.key, ptr.digest, ptr.size, "image/png", "page.png"
    )
    roundtrip = {
        "plaintext": "byte i = i mod 251",
        "size": size,
        "key": key.hex(),
        "header": header.hex(),
        "blob_length": len(blob),
        "blob_sha256": hashlib.sha256(blob).hexdigest(),
        "file": file.to_wire(),
        "payload": Payload(file, SENT_AT, TO, MESSAGE_ID).encode().decode(),
        "tampered_byte": 40_000,  # flipping its lowest bit must make decryption fail (DecryptionFailed)
    }
    return {
        "description": (
            "File messages (PROTOCOL section 11): valid pointers with their exact payload JSON (compact, "
            "UTF-8, keys in this order), invalid pointers every client must reject, and one encrypted "
            "round trip."
        ),
        "to": TO,
        "sent_at": SENT_AT,
        "id": MESSAGE_ID,
        "valid": valid,
        "invalid": invalid,
        "roundtrip": roundtrip,
    }


def main() -> int:
    return write_or_check(OUT, generate(), ensure_ascii=False)


if __name__ == "__main__":
    raise SystemExit(main())
