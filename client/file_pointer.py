"""The file pointer: what a "file" message carries so the recipient can fetch, decrypt and verify a blob.

Inside the end-to-end encrypted payload (client/payload.py; docs/PROTOCOL.md section 11, "File messages"):

    {"v": 1, "type": "file",
     "file": {"blob_id": "<32 hex>", "key": "<base64, 32 bytes>", "digest": "<base64, 32 bytes>",
              "size": <plaintext bytes>, "content_type": "image/png", "name": "journal.png",
              "thumbnail": "<base64 JPEG, optional, images only>"},
     "sent_at": <ms>, "to": "<recipient account id>"}

``key`` opens the blob's secretstream, ``digest`` is BLAKE2b-256 of the whole blob and ``size`` the plaintext
length (crypto/attachments.py); the server sees none of them, nor the name, type or thumbnail. A receiver
rejects (``MalformedFile``) any pointer that breaks a rule below, and shows a file only after its digest
verified. Both clients apply the same rules, pinned by tests/vectors/file_message.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from client._wire import b64d, b64e
from crypto.attachments import AttachmentPointer
from crypto.limits import MAX_ATTACHMENT_BYTES, MAX_FILE_NAME_BYTES, MAX_THUMBNAIL_BYTES

__all__ = ["FilePointer", "MalformedFile", "safe_file_name"]

_BLOB_ID = re.compile(r"^[0-9a-f]{32}$")
# RFC 6838 type/subtype characters, lowercase; parameters (";charset=...") are not carried.
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")
_JPEG_MAGIC = b"\xff\xd8\xff"
_FIELDS = ("blob_id", "key", "digest", "size", "content_type", "name", "thumbnail")


class MalformedFile(ValueError):
    """A file pointer that breaks the rules of docs/PROTOCOL.md section 11."""


def safe_file_name(name: str) -> str:
    """A sender's file name made acceptable: path parts and control characters dropped, length bounded."""
    base = re.split(r"[/\\]", name)[-1]
    base = _BAD_NAME.sub("", base).strip() or "file"
    while len(base.encode()) > MAX_FILE_NAME_BYTES:
        base = base[:-1]
    return base


@dataclass(frozen=True)
class FilePointer:
    blob_id: str
    key: bytes
    digest: bytes
    size: int
    content_type: str
    name: str
    thumbnail: bytes | None = None

    def __post_init__(self) -> None:
        if not _BLOB_ID.match(self.blob_id):
            raise MalformedFile("blob_id must be 32 lowercase hex characters")
        if len(self.key) != 32 or len(self.digest) != 32:
            raise MalformedFile("key and digest must be 32 bytes each")
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_ATTACHMENT_BYTES:
            raise MalformedFile(f"size must be between 0 and {MAX_ATTACHMENT_BYTES}")
        if not _CONTENT_TYPE.match(self.content_type):
            raise MalformedFile("content_type must be a lowercase type/subtype")
        encoded = self.name.encode("utf-8", "surrogatepass")
        if not 1 <= len(encoded) <= MAX_FILE_NAME_BYTES or _BAD_NAME.search(self.name):
            raise MalformedFile(
                "name must be 1..255 UTF-8 bytes without path separators or control characters"
            )
        if self.thumbnail is not None:
            if not self.content_type.startswith("image/"):
                raise MalformedFile("only images carry a thumbnail")
            if not 0 < len(self.thumbnail) <= MAX_THUMBNAIL_BYTES or not self.thumbnail.startswith(
                _JPEG_MAGIC
            ):
                raise MalformedFile(f"thumbnail must be a JPEG of at most {MAX_THUMBNAIL_BYTES} bytes")

    @property
    def attachment(self) -> AttachmentPointer:
        """The crypto/attachments.py pointer that decrypts and verifies the blob."""
        return AttachmentPointer(self.key, self.digest, self.size)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    def to_wire(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "blob_id": self.blob_id,
            "key": b64e(self.key),
            "digest": b64e(self.digest),
            "size": self.size,
            "content_type": self.content_type,
            "name": self.name,
        }
        if self.thumbnail is not None:
            doc["thumbnail"] = b64e(self.thumbnail)
        return doc

    @classmethod
    def from_wire(cls, doc: Any) -> FilePointer:
        if not isinstance(doc, dict):
            raise MalformedFile("file must be an object")
        try:
            blob_id, name, content_type, size = doc["blob_id"], doc["name"], doc["content_type"], doc["size"]
            if not (isinstance(blob_id, str) and isinstance(name, str) and isinstance(content_type, str)):
                raise MalformedFile("blob_id, name and content_type must be strings")
            if not isinstance(size, int) or isinstance(size, bool):
                raise MalformedFile("size must be an integer")
            thumbnail = doc.get("thumbnail")
            if thumbnail is not None and not isinstance(thumbnail, str):
                raise MalformedFile("thumbnail must be base64 text")
            return cls(
                blob_id,
                b64d(_text(doc["key"])),
                b64d(_text(doc["digest"])),
                size,
                content_type,
                name,
                None if thumbnail is None else b64d(thumbnail),
            )
        except KeyError as exc:
            raise MalformedFile(f"missing field {exc.args[0]!r}") from None
        except ValueError as exc:
            if isinstance(exc, MalformedFile):
                raise
            raise MalformedFile("a binary field is not valid base64") from None

    def __repr__(self) -> str:
        return (
            f"FilePointer(blob_id={self.blob_id}, size={self.size}, type={self.content_type}, key=<hidden>)"
        )


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise MalformedFile("key and digest must be base64 text")
    return value
