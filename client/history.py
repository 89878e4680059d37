"""Conversation history in the account vault, so that a linked or restored device shows past messages
(docs/PROTOCOL.md section 22.6; the browser's app/history.js is the same, pinned by tests/vectors/vault.json).

    history = History(Vault.of(device), device.account_id)
    async for message in device.messages():
        await history.record(message)                     # as messages are read
    await history.record_sent(client_id, message_id, text, sent_at)   # as they are sent
    history.conversation(client_id)                       # on any device of the account, after vault.sync()

Records of kind HISTORY, one conversation each, in chunks:
``{"conversation": <contact account id>, "chunk": n, "messages": [item, ...]}``, items sorted by (at, id),
``{"id", "from", "at", "text"}`` or, for a file, ``{"id", "from", "at", "file": <file name>}`` (the file
itself is not kept). A device appends to the conversation's last chunk; a chunk is full at
``HISTORY_CHUNK_MESSAGES`` items or ``HISTORY_CHUNK_BYTES`` encoded, and the rest starts chunk n + 1.
Two devices appending at once: the loser of the version race re-reads the chunk and merges by message id,
so nothing is lost and nothing is doubled.
"""

from __future__ import annotations

import json
from typing import Any

from client.device import Message
from client.errors import ApiError
from client.file_pointer import FilePointer
from client.vault import Vault, VaultEntry
from crypto import vault as vc
from crypto.limits import HISTORY_CHUNK_BYTES, HISTORY_CHUNK_MESSAGES

__all__ = ["History", "item_of", "merge_items", "split_chunks"]

JSON = dict[str, Any]
MAX_TRIES = 8  # version races lost in a row before giving up (each one means another device made progress)


def _size(items: list[JSON]) -> int:
    return len(json.dumps(items, separators=(",", ":"), ensure_ascii=False).encode())


def merge_items(existing: list[JSON], new: list[JSON]) -> list[JSON]:
    """Union by message id (the existing item wins), sorted by (at, id)."""
    by_id = {str(i["id"]): i for i in new}
    by_id.update({str(i["id"]): i for i in existing})
    return sorted(by_id.values(), key=lambda i: (int(i["at"]), str(i["id"])))


def split_chunks(items: list[JSON]) -> list[list[JSON]]:
    """Consecutive chunks, each within HISTORY_CHUNK_MESSAGES items and HISTORY_CHUNK_BYTES encoded."""
    chunks: list[list[JSON]] = [[]]
    for item in items:
        current = chunks[-1]
        if current and (
            len(current) >= HISTORY_CHUNK_MESSAGES or _size([*current, item]) > HISTORY_CHUNK_BYTES
        ):
            chunks.append([item])
        else:
            current.append(item)
    return chunks


def item_of(message_id: str, author: str, at: int, body: str | bytes | FilePointer) -> JSON | None:
    if isinstance(body, FilePointer):
        return {"id": message_id, "from": author, "at": at, "file": body.name}
    if isinstance(body, str):
        return {"id": message_id, "from": author, "at": at, "text": body}
    return None  # raw bytes (a minimal sender): nothing a person reads


class History:
    def __init__(self, vault: Vault, account_id: str) -> None:
        self.vault = vault
        self.account_id = account_id  # ours: the author of what we send

    def chunks(self, contact: str) -> list[VaultEntry]:
        return sorted(
            (e for e in self.vault.of_kind(vc.RecordKind.HISTORY) if e.body.get("conversation") == contact),
            key=lambda e: (int(e.body.get("chunk", 0)), e.record_id),
        )

    def conversations(self) -> set[str]:
        return {str(e.body.get("conversation")) for e in self.vault.of_kind(vc.RecordKind.HISTORY)}

    def conversation(self, contact: str) -> list[JSON]:
        items: list[JSON] = []
        for chunk in self.chunks(contact):
            items = merge_items(items, list(chunk.body.get("messages", [])))
        return items

    async def record(self, message: Message) -> int:
        """A message this device received (or its own copy of one sent from another device)."""
        contact = message.from_account if message.from_account != self.account_id else message.to_account
        item = item_of(message.id, message.from_account, message.sent_at, message.body)
        return 0 if item is None else await self.append(contact, [item])

    async def record_sent(self, contact: str, message_id: str, body: str | FilePointer, sent_at: int) -> int:
        item = item_of(message_id, self.account_id, sent_at, body)
        return 0 if item is None else await self.append(contact, [item])

    async def append(self, contact: str, items: list[JSON]) -> int:
        """Add the items not yet in this conversation's history; returns how many were new."""
        for _ in range(MAX_TRIES):
            known = {str(i["id"]) for i in self.conversation(contact)}
            fresh = [i for i in items if str(i["id"]) not in known]
            if not fresh:
                return 0
            chunks = self.chunks(contact)
            last = chunks[-1] if chunks else None
            number = int(last.body.get("chunk", 0)) if last else 0
            parts = split_chunks(merge_items(list(last.body["messages"]) if last else [], fresh))
            try:
                for k, part in enumerate(parts):
                    body = {"conversation": contact, "chunk": number + k, "messages": part}
                    if k == 0 and last is not None:
                        await self.vault.write(vc.RecordKind.HISTORY, body, last.record_id, last.version)
                    else:
                        await self.vault.write(vc.RecordKind.HISTORY, body)
            except ApiError as err:
                if err.code != "conflict" or last is None:
                    raise
                await self.vault.reload(last.record_id)  # another device appended first: merge into theirs
                continue
            return len(fresh)
        raise ApiError("conflict", "the history chunk kept changing; try again", None, 409)
