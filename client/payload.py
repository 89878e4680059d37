"""The plaintext inside every message ciphertext (documented in docs/SDK.md).

    {"v": 2, "id": "<message id, 32 hex>", "type": "text" | "bytes", "body": "<text, or base64 for bytes>",
     "sent_at": <client clock, ms>, "to": "<recipient account id>"}
    {"v": 2, "id": ..., "type": "file", "file": {<FilePointer: client/file_pointer.py>}, "sent_at", "to"}
    {"v": 2, "id": ..., "type": "profile", "display_name": "<the sender's display name>", "sent_at", "to"}
    {"v": 2, "id": ..., "type": "receipt", "ids": ["<message id>", ...], "sent_at", "to"}

A ``receipt`` says which of ``to``'s messages one received page delivered to the sender (one per sender per
page, at most ``MAX_RECEIPT_IDS`` ids, each 32 hex); like a ``profile`` it is never shown as a message.

``id`` (version 2) is the sender's message id, chosen once and kept across retries and re-encryptions:
receivers de-duplicate on it, authenticated inside the ciphertext, never on the id the relay delivers
(docs/PROTOCOL.md section 20).

``to`` lets the sender's own other devices file their copy under the right conversation; the server
never sees it. Compact JSON, UTF-8; unknown keys are ignored so later versions can add fields.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from client._wire import b64d, b64e
from client.file_pointer import FilePointer, MalformedFile
from client.names import InvalidName, Profile, check_name
from crypto.limits import MAX_RECEIPT_IDS

__all__ = ["PAYLOAD_VERSION", "Payload", "PayloadError", "Receipt"]

PAYLOAD_VERSION = 2


class PayloadError(ValueError):
    """The decrypted plaintext is not a payload this SDK understands."""


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt (PROTOCOL.md section 20): the ids of our messages a contact's device received."""

    ids: tuple[str, ...]


@dataclass(frozen=True)
class Payload:
    body: str | bytes | FilePointer | Profile | Receipt  # Profile and Receipt: never shown as a message
    sent_at: int
    to: str
    id: str

    def encode(self) -> bytes:
        doc: dict[str, object]
        if isinstance(self.body, FilePointer):
            doc = {"v": PAYLOAD_VERSION, "id": self.id, "type": "file", "file": self.body.to_wire()}
        elif isinstance(self.body, Profile):
            name = check_name(self.body.display_name)
            doc = {"v": PAYLOAD_VERSION, "id": self.id, "type": "profile", "display_name": name}
        elif isinstance(self.body, Receipt):
            ids = list(_receipt_ids(self.body.ids))
            doc = {"v": PAYLOAD_VERSION, "id": self.id, "type": "receipt", "ids": ids}
        else:
            kind, body = ("bytes", b64e(self.body)) if isinstance(self.body, bytes) else ("text", self.body)
            doc = {"v": PAYLOAD_VERSION, "id": self.id, "type": kind, "body": body}
        doc.update({"sent_at": self.sent_at, "to": self.to})
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Payload:
        try:
            doc = json.loads(raw.decode())
            if not isinstance(doc, dict) or doc.get("v") != PAYLOAD_VERSION:
                raise PayloadError("unsupported payload version")
            kind = doc["type"]
            value: str | bytes | FilePointer | Profile | Receipt
            if kind == "file":
                value = FilePointer.from_wire(doc["file"])
            elif kind == "profile":
                value = Profile(check_name(doc["display_name"]))
            elif kind == "receipt":
                value = Receipt(_receipt_ids(doc["ids"]))
            elif kind in ("text", "bytes"):
                value = b64d(doc["body"]) if kind == "bytes" else str(doc["body"])
            else:
                raise PayloadError("unknown payload type")
            message_id = doc["id"]
            if not isinstance(message_id, str) or not _MESSAGE_ID.fullmatch(message_id):
                raise PayloadError("a payload needs a 32-hex message id")
            return cls(value, int(doc["sent_at"]), str(doc.get("to", "")), message_id)
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, PayloadError):
                raise
            if isinstance(exc, InvalidName):
                raise PayloadError(f"invalid display name: {exc}") from None
            if isinstance(exc, MalformedFile):
                raise PayloadError(f"malformed file pointer: {exc}") from None
            raise PayloadError("malformed payload") from None


_MESSAGE_ID = re.compile("[0-9a-f]{32}")


def _receipt_ids(ids: object) -> tuple[str, ...]:
    if not isinstance(ids, list | tuple) or not 0 < len(ids) <= MAX_RECEIPT_IDS:
        raise PayloadError(f"a receipt lists 1 to {MAX_RECEIPT_IDS} message ids")
    if not all(isinstance(i, str) and _MESSAGE_ID.fullmatch(i) for i in ids):
        raise PayloadError("a receipt lists 32-hex message ids")
    return tuple(ids)
