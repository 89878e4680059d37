"""Per-account trust (client/trust.py) without a server: what a listing from a hostile relay can and
cannot make a device believe."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client._wire import b64e
from client.errors import KeyChanged
from client.keystore import Keystore
from client.state import DeviceState
from client.trust import TrustBook
from crypto import AccountKeyPair, DeviceCertificate, IdentityKeyPair, fingerprint


class Account:
    def __init__(self) -> None:
        self.id = os.urandom(16).hex()
        self.key = AccountKeyPair.generate()

    def device(self, signer: AccountKeyPair | None = None, created_at: int = 1) -> dict[str, Any]:
        device_id, identity = os.urandom(16).hex(), IdentityKeyPair.generate()
        cert = DeviceCertificate.issue(
            signer or self.key, bytes.fromhex(self.id), bytes.fromhex(device_id), identity.public, created_at
        )
        return {
            "device_id": device_id,
            "identity_key": b64e(identity.public.to_bytes()),
            "certificate": {"created_at": cert.created_at, "signature": b64e(cert.signature)},
        }


_DIR = tempfile.TemporaryDirectory(prefix="trust-")
_OPEN: list[Keystore] = []


@pytest.fixture(autouse=True)
def _close_keystores() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close_now()


def _book() -> tuple[TrustBook, Account]:
    me = Account()
    keystore = Keystore.create(Path(_DIR.name) / os.urandom(8).hex(), "p", kdf="fast")
    _OPEN.append(keystore)
    state = DeviceState(keystore)
    state.account_id, state.device_id, state.role = me.id, os.urandom(16).hex(), "client"
    return TrustBook(state, me.key.public), me


def test_first_sight_pins_the_account_and_only_certified_devices_are_used() -> None:
    book, _ = _book()
    therapist = Account()
    good, planted = therapist.device(), therapist.device(signer=AccountKeyPair.generate())
    notices = book.observe(therapist.id, therapist.key.public.to_bytes(), [good, planted])
    assert [d.device_id for d in book.certified_devices(therapist.id)] == [good["device_id"]]
    assert notices == [
        {"event": "untrusted_device", "account_id": therapist.id, "device_id": planted["device_id"]}
    ]
    assert not book.is_verified(therapist.id) and not book.is_blocked(therapist.id)


def test_a_new_certified_device_is_announced() -> None:
    book, _ = _book()
    therapist = Account()
    first = therapist.device()
    book.observe(therapist.id, therapist.key.public.to_bytes(), [first])
    tablet = therapist.device(created_at=1_764_370_000_000)
    notices = book.observe(therapist.id, therapist.key.public.to_bytes(), [first, tablet])
    assert notices == [
        {
            "event": "device_added",
            "account_id": therapist.id,
            "device_id": tablet["device_id"],
            "created_at": 1_764_370_000_000,
        }
    ]


def test_a_changed_account_key_blocks_until_accepted_and_drops_old_devices() -> None:
    book, _ = _book()
    therapist, impostor = Account(), Account()
    impostor.id = therapist.id
    first = therapist.device()
    book.observe(therapist.id, therapist.key.public.to_bytes(), [first])
    notices = book.observe(therapist.id, impostor.key.public.to_bytes(), [impostor.device()])
    assert len(notices) == 1 and isinstance(notices[0], KeyChanged) and notices[0].reason == "changed"
    assert book.is_blocked(therapist.id) and book.certified_devices(therapist.id) == []
    book.accept_new_key(therapist.id)  # the person's explicit choice
    assert not book.is_blocked(therapist.id)
    book.observe(therapist.id, impostor.key.public.to_bytes(), [impostor.device()])
    assert first["device_id"] not in [d.device_id for d in book.certified_devices(therapist.id)]


def test_the_invitation_fingerprint_verifies_or_blocks_the_first_contact() -> None:
    book, _ = _book()
    therapist, swapped = Account(), Account()
    fp = fingerprint.invitation_fingerprint_text(therapist.key.public, bytes.fromhex(therapist.id))
    book.state.invitation_fingerprints[therapist.id] = fp
    notices = book.observe(therapist.id, swapped.key.public.to_bytes(), [])
    assert isinstance(notices[0], KeyChanged) and notices[0].reason == "invitation_mismatch"
    assert book.is_blocked(therapist.id)
    other, _ = _book()
    other.state.invitation_fingerprints[therapist.id] = fp
    assert other.observe(therapist.id, therapist.key.public.to_bytes(), []) == []
    assert other.is_verified(therapist.id)


def test_safety_numbers_match_on_both_sides_and_marking_verified_sticks() -> None:
    alice_book, alice = _book()
    bob_book, bob = _book()
    alice_book.observe(bob.id, bob.key.public.to_bytes(), [])
    bob_book.observe(alice.id, alice.key.public.to_bytes(), [])
    assert alice_book.safety_number(bob.id) == bob_book.safety_number(alice.id)
    alice_book.mark_verified(bob.id)
    assert alice_book.is_verified(bob.id)
