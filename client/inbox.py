"""Received messages waiting for the application, and the window of message ids already seen, kept in the
keystore a slice at a time (client/keystore.py, client/state.py).

A backlog is decrypted in slices (the envelopes between two yields to the event loop, at most 25). Each
slice's new messages become one sealed ``inbox_slice`` row and their ids one ``seen_slice`` row, staged
together when the slice ends (``stage``), before anything can await: a keystore write, whoever starts it,
holds either all of a slice (with the session states and the cursor that decrypted it) or none of it. A
message costs a share of two rows instead of two rows of its own plus a deleted seen row.

Handing over (``take``) walks the slices in order. Only a slice whose row is durably on disk is handed over
(``Keystore.durable_seq``), so a crash never takes back a message the application already has. The position
inside the first slice is one small profile value (``inbox_taken``, restaged per message but written once per
commit); the slice's row is deleted when its last message is taken. Both are written in the background, not
fsynced: a crash may hand the last few messages of a slice over again, as a deleted row could before.

Keystores of earlier versions hold one ``inbox`` row per message and one ``seen`` row per id: they are read,
handed over first and evicted first, never written again (except by the v1 file migration).
"""

from __future__ import annotations

from client.state import MAX_SEEN_IDS, DeviceState, StoredMessage

__all__ = ["Inbox"]


class Inbox:
    def __init__(self, state: DeviceState) -> None:
        self.state = state
        self._ids: set[str] = set(state.seen)
        for ids in state.seen_slices.values():
            self._ids.update(ids)
        self._count = len(self._ids)
        self._slice: list[StoredMessage] = []  # decrypted, not staged yet
        self._slice_ids: list[str] = []
        self._offset = 0  # messages of the first inbox slice already taken
        first = state.inbox_slices.first()
        taken = state.inbox_taken
        if first is not None and isinstance(taken, list) and len(taken) == 2 and taken[0] == first[0]:
            self._offset = max(0, min(int(taken[1]), len(first[1]) - 1))  # deleted with its last message

    def __len__(self) -> int:
        """Messages not taken yet, staged or not."""
        waiting = sum(len(s) for s in self.state.inbox_slices.values()) - self._offset
        return len(self.state.inbox) + waiting + len(self._slice)

    def seen(self, message_id: str) -> bool:
        return message_id in self._ids

    def add(self, message_id: str, message: StoredMessage) -> bool:
        """Remember ``message_id`` and keep ``message`` for the application, in the current slice; False if
        the id was already seen (nothing kept)."""
        if message_id in self._ids:
            return False
        self._ids.add(message_id)
        self._slice_ids.append(message_id)
        self._slice.append(message)
        return True

    def stage(self) -> None:
        """End the current slice: its messages and ids become keystore records (call before any await)."""
        if self._slice:
            self.state.inbox_slices.append(self._slice)
            self._slice = []
        if self._slice_ids:
            self.state.seen_slices.append(self._slice_ids)
            self._count += len(self._slice_ids)
            self._slice_ids = []
            self._evict()

    def _evict(self) -> None:
        # The window keeps at least the last MAX_SEEN_IDS ids; whole slices go, the oldest (earlier-version
        # single ids first).
        seen, slices = self.state.seen, self.state.seen_slices
        while self._count > MAX_SEEN_IDS and len(seen):
            popped = seen.pop_first()
            if popped is not None:
                self._ids.discard(popped[0])
                self._count -= 1
        while True:
            first = slices.first()
            if first is None or self._count - len(first[1]) < MAX_SEEN_IDS:
                return
            slices.pop_first()
            self._ids.difference_update(first[1])
            self._count -= len(first[1])

    def take(self, durable_seq: int) -> tuple[str, StoredMessage] | None:
        """The oldest message whose record is durably on disk, removed (written in the background), with its
        key (``<sender account>:<id>``); None if there is none yet."""
        legacy = self.state.inbox
        if len(legacy):
            first = legacy.first()
            if first is not None and legacy.seq(first[0]) <= durable_seq:
                legacy.pop_first()
                return first
            return None
        slices = self.state.inbox_slices
        head = slices.first()
        if head is None or slices.seq(head[0]) > durable_seq:
            return None
        key, messages = head
        message = messages[self._offset]
        self._offset += 1
        if self._offset == len(messages):
            slices.pop_first()
            self._offset = 0
            self.state.inbox_taken = None
        else:
            self.state.inbox_taken = [key, self._offset]
        return f"{message.from_account}:{message.id}", message
