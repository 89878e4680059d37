"""Sessions between two devices without a server: simultaneous starts converge, uncertified keys are refused,
duplicates never start a new session, replayed session starts are refused."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from client._wire import b64e
from client.errors import UntrustedDevice
from client.keystore import Keystore
from client.sessions import SessionBook
from client.state import DeviceState
from crypto import (
    DuplicateMessage,
    IdentityKeyPair,
    PreKeyBundle,
    ReplayedMessage,
    SignedPreKeyPair,
    generate_one_time_prekeys,
)

_DIR = tempfile.TemporaryDirectory(prefix="sessions-")
_OPEN: list[Keystore] = []


@pytest.fixture(autouse=True)
def _close_keystores() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close_now()


class Peer:
    def __init__(self, account: str | None = None, device: str | None = None) -> None:
        self.account = account or os.urandom(16).hex()
        self.device = device or os.urandom(16).hex()
        self.identity = IdentityKeyPair.generate()
        spk = SignedPreKeyPair.generate(self.identity, 1)
        self.otks = generate_one_time_prekeys(1, 5)
        path = Path(_DIR.name) / f"{self.device}-{os.urandom(4).hex()}"
        self.keystore = Keystore.create(path, "p", kdf="fast")
        _OPEN.append(self.keystore)
        state = DeviceState(self.keystore)
        state.account_id, state.device_id, state.role = self.account, self.device, "client"
        state.identity_seed = b64e(self.identity.to_bytes())
        state.signed_prekeys["1"] = b64e(spk.to_bytes())
        for k in self.otks:
            state.one_time_prekeys[str(k.key_id)] = b64e(k.to_bytes())
        self.spk = spk
        self.book = SessionBook(state, self.identity)

    def bundle(self, with_otk: bool = True) -> PreKeyBundle:
        otk = self.otks.pop(0).public_part() if with_otk else None
        return PreKeyBundle(self.identity.public, self.spk.public_part(), otk)

    def certify(self, other: Peer) -> None:
        """What client/trust.py does once the other's certificate verified under its account key."""
        self.book.state.peer_identities[other.device] = b64e(other.identity.public.to_bytes())
        self.book.state.device_accounts[other.device] = other.account

    def send_to(self, other: Peer, text: str, with_otk: bool = True) -> bytes:
        self.certify(other)
        other.certify(self)
        if not self.book.has_session(other.device):
            self.book.start(other.account, other.device, other.bundle(with_otk))
        return self.book.encrypt(other.device, text.encode())[1]

    def read(self, sender: Peer, wire: bytes) -> str:
        return self.book.decrypt(sender.account, sender.device, wire).decode()


def test_both_sides_starting_at_once_still_read_everything() -> None:
    alice, bob = Peer(), Peer()
    a1 = alice.send_to(bob, "a1")  # both start a session before reading the other's first message
    b1 = bob.send_to(alice, "b1")
    assert bob.read(alice, a1) == "a1"
    assert alice.read(bob, b1) == "b1"
    for i in range(5):
        assert bob.read(alice, alice.send_to(bob, f"a{i + 2}")) == f"a{i + 2}"
        assert alice.read(bob, bob.send_to(alice, f"b{i + 2}")) == f"b{i + 2}"


def test_used_one_time_prekey_is_deleted_after_accepting() -> None:
    alice, bob = Peer(), Peer()
    before = set(bob.book.state.one_time_prekeys)
    bob.read(alice, alice.send_to(bob, "hello"))
    assert len(before - set(bob.book.state.one_time_prekeys)) == 1


def test_a_device_presenting_another_identity_key_is_refused() -> None:
    alice, bob = Peer(), Peer()
    bob.read(alice, alice.send_to(bob, "hello"))
    mallory = Peer(account=alice.account, device=alice.device)  # same device id, another identity key
    mallory.certify(bob)
    mallory.book.start(bob.account, bob.device, bob.bundle())
    wire = mallory.book.encrypt(bob.device, b"it is me, really")[1]
    before = dict(bob.book.state.sessions)
    with pytest.raises(UntrustedDevice):
        bob.read(mallory, wire)
    assert dict(bob.book.state.sessions) == before
    assert bob.read(alice, alice.send_to(bob, "still me")) == "still me"


def test_a_device_nobody_certified_is_never_read() -> None:
    alice, bob = Peer(), Peer()
    wire = alice.send_to(bob, "hello")
    del bob.book.state.peer_identities[alice.device]
    with pytest.raises(UntrustedDevice):
        bob.read(alice, wire)


def test_a_duplicate_prekey_message_never_starts_a_new_session() -> None:
    alice, bob = Peer(), Peer()
    first = alice.send_to(bob, "first")
    assert bob.read(alice, first) == "first"
    sessions = list(bob.book.state.sessions[alice.device])
    with pytest.raises(DuplicateMessage):
        bob.read(alice, first)  # redelivered, or replayed by the relay
    assert bob.book.state.sessions[alice.device] == sessions


def test_a_replayed_session_start_without_one_time_prekey_is_refused() -> None:
    """The relay withheld one-time prekeys, then replays Alice's first message to Bob later."""
    alice, bob = Peer(), Peer()
    first = alice.send_to(bob, "first", with_otk=False)
    assert bob.read(alice, first) == "first"
    for i in range(3):
        assert alice.read(bob, bob.send_to(alice, f"b{i}")) == f"b{i}"
        assert bob.read(alice, alice.send_to(bob, f"a{i}")) == f"a{i}"
    bob.book.state.sessions.pop(alice.device)  # even without the session, the start is remembered
    with pytest.raises(ReplayedMessage):
        bob.read(alice, first)
    assert alice.device not in bob.book.state.sessions
