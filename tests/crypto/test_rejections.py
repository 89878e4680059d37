"""Every bad input raises a typed error and leaves the session state byte-identical."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from crypto.errors import (
    CryptoError,
    DecryptionFailed,
    DuplicateMessage,
    MalformedEnvelope,
    TooManySkippedMessages,
    UnsupportedVersion,
    WrongRecipient,
    WrongSender,
)
from crypto.keys import X25519KeyPair
from crypto.limits import MAX_SKIP, MAX_SKIPPED_KEYS
from crypto.session import Session
from tests.crypto._helpers import Device, pair


def _flip(data: bytes, index: int, mask: int = 1) -> bytes:
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


def _refused(session: Session, wire: bytes, error: type[CryptoError]) -> None:
    before = session.to_bytes()
    with pytest.raises(error):
        session.decrypt(wire)
    assert session.to_bytes() == before


TAMPERS: dict[str, tuple[Callable[[bytes], bytes], type[CryptoError]]] = {
    "ciphertext bit": (lambda w: _flip(w, len(w) - 40), DecryptionFailed),
    "tag bit": (lambda w: _flip(w, len(w) - 1), DecryptionFailed),
    "header n": (lambda w: _flip(w, 34 + 39), DecryptionFailed),
    "header pn": (lambda w: _flip(w, 34 + 35), DecryptionFailed),
    "header dh (another valid key)": (
        lambda w: w[:34] + X25519KeyPair.generate().public.to_bytes() + w[66:],
        DecryptionFailed,
    ),
    "header n far in the future": (lambda w: w[:70] + b"\x7f\xff\xff\xff" + w[74:], TooManySkippedMessages),
    "recipient": (lambda w: _flip(w, 20), WrongRecipient),
    "sender": (lambda w: _flip(w, 5), WrongSender),
    "version": (lambda w: b"\x02" + w[1:], UnsupportedVersion),
    "type": (lambda w: w[:1] + b"\x01" + w[2:], MalformedEnvelope),
    "truncated": (lambda w: w[:-1], MalformedEnvelope),
    "truncated to the header": (lambda w: w[:74], MalformedEnvelope),
    "garbage": (lambda w: os.urandom(len(w)), CryptoError),
    "empty": (lambda w: b"", MalformedEnvelope),
    "extended": (lambda w: w + bytes(160), DecryptionFailed),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_tampered_envelope_is_refused_and_state_untouched(name: str) -> None:
    a, b = pair()
    tamper, error = TAMPERS[name]
    wire = a.encrypt(b"the session is on Tuesday")
    _refused(b, tamper(wire), error)
    assert b.decrypt(wire) == b"the session is on Tuesday"  # the genuine message still works


def test_tampered_prekey_fields_are_refused() -> None:
    alice, bob = Device(), Device()
    a = Session.initiate(alice.identity, alice.device_id, bob.device_id, bob.bundle())
    wire = a.encrypt(b"hi")
    for index in (40, 70, 101):  # identity key, ephemeral key, signed prekey id
        with pytest.raises(CryptoError):
            bob.accept(_flip(wire, index))
    assert bob.accept(wire)[1] == b"hi"


def test_relay_readdressing_to_another_device_of_the_account_is_detected() -> None:
    alice, bob1, bob2 = Device(), Device(), Device()
    to1 = Session.initiate(alice.identity, alice.device_id, bob1.device_id, bob1.bundle())
    to2 = Session.initiate(alice.identity, alice.device_id, bob2.device_id, bob2.bundle())
    s1, _ = bob1.accept(to1.encrypt(b"setup"))
    s2, _ = bob2.accept(to2.encrypt(b"setup"))
    assert to1.decrypt(s1.encrypt(b"ok")) == to2.decrypt(s2.encrypt(b"ok")) == b"ok"
    meant_for_1 = to1.encrypt(b"for device one only")
    with pytest.raises(WrongRecipient):
        s2.decrypt(meant_for_1)
    readdressed = meant_for_1[:18] + bob2.device_id + meant_for_1[34:]
    _refused(s2, readdressed, DecryptionFailed)
    assert s1.decrypt(meant_for_1) == b"for device one only"


def test_replays_refused_on_current_and_previous_chains() -> None:
    a, b = pair()
    old = a.encrypt(b"old chain")
    assert b.decrypt(old) == b"old chain"
    for _ in range(3):  # several DH ratchet steps
        assert a.decrypt(b.encrypt(b"ping")) == b"ping"
        assert b.decrypt(a.encrypt(b"pong")) == b"pong"
    current = a.encrypt(b"current chain")
    assert b.decrypt(current) == b"current chain"
    _refused(b, current, DuplicateMessage)
    _refused(b, old, DuplicateMessage)


def test_skip_bound_is_exact() -> None:
    a, b = pair()
    wires = [a.encrypt(b"%d" % i) for i in range(MAX_SKIP + 2)]
    _refused(b, wires[MAX_SKIP + 1], TooManySkippedMessages)
    assert b.decrypt(wires[MAX_SKIP]) == b"%d" % MAX_SKIP
    assert b.decrypt(wires[0]) == b"0"


def test_skipped_keys_are_bounded_and_oldest_evicted() -> None:
    a, b = pair()
    total = MAX_SKIPPED_KEYS + 800
    wires = [a.encrypt(b"%d" % i) for i in range(total + 1)]
    for i in range(MAX_SKIP, total + 1, MAX_SKIP):
        b.decrypt(wires[i])
    b.decrypt(wires[total])
    restored = Session.from_bytes(b.to_bytes())  # the bound also holds for persisted state
    _refused(restored, wires[0], DuplicateMessage)  # evicted: the oldest skipped key is gone
    assert restored.decrypt(wires[total - 5]) == b"%d" % (total - 5)  # recent skipped keys remain


def test_forward_secrecy_copied_state_cannot_read_earlier_messages() -> None:
    a, b = pair()
    captured = []
    for round_ in range(3):
        for i in range(3):
            wire = a.encrypt(b"secret %d/%d" % (round_, i))
            captured.append(wire)
            b.decrypt(wire)
        a.decrypt(b.encrypt(b"ack"))
    stolen = b.to_bytes()
    for wire in captured:
        with pytest.raises(CryptoError):
            Session.from_bytes(stolen).decrypt(wire)


def test_post_compromise_security_after_one_round_trip() -> None:
    a, b = pair()
    stolen = b.to_bytes()
    # Right after the compromise the attacker can read what Alice sends next...
    next_message = a.encrypt(b"before healing")
    assert Session.from_bytes(stolen).decrypt(next_message) == b"before healing"
    assert b.decrypt(next_message) == b"before healing"
    # ...but after one round trip fresh DH keys heal the session.
    assert a.decrypt(b.encrypt(b"round trip")) == b"round trip"
    healed = a.encrypt(b"after healing")
    assert b.decrypt(healed) == b"after healing"
    with pytest.raises(CryptoError):
        Session.from_bytes(stolen).decrypt(healed)


def test_sender_state_copy_cannot_read_its_past_messages_either() -> None:
    a, b = pair()
    sent = [a.encrypt(b"%d" % i) for i in range(5)]
    for wire in sent:
        b.decrypt(wire)
    # A stolen copy of Bob from *before* these arrived can read them (that is expected)...
    # ...but a copy of Alice's state holds no receiving key for her own messages.
    stolen_alice = a.to_bytes()
    for wire in sent:
        with pytest.raises(CryptoError):
            Session.from_bytes(stolen_alice).decrypt(wire)
