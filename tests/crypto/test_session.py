"""The pairwise Session API: round trips, ordering, loss, many sessions, persistence."""

from __future__ import annotations

import os
import random

import pytest

from crypto.envelope import EnvelopeType, parse
from crypto.errors import (
    BadSignature,
    CryptoError,
    DuplicateMessage,
    InvalidKey,
    SessionMismatch,
    TooLarge,
    UnknownPreKey,
    WrongRecipient,
    WrongSender,
)
from crypto.keys import PreKeyBundle, SignedPreKey
from crypto.limits import MAX_ENVELOPE_BYTES, MAX_PLAINTEXT_BYTES
from crypto.session import Session, peek_envelope
from tests.crypto._helpers import Device, pair


@pytest.mark.parametrize("with_otpk", [True, False])
def test_first_message_round_trip_and_used_prekey_reported(with_otpk: bool) -> None:
    alice, bob = Device(), Device()
    a = Session.initiate(alice.identity, alice.device_id, bob.device_id, bob.bundle(with_otpk))
    wire = a.encrypt(b"I would like to book a session")
    info = peek_envelope(wire)
    assert (info.type, info.sender_device, info.recipient_device) == (
        EnvelopeType.PREKEY,
        alice.device_id,
        bob.device_id,
    )
    b, plaintext, used = Session.accept(bob.identity, bob.device_id, bob.spk_lookup, bob.otpks.get, wire)
    assert plaintext == b"I would like to book a session"
    assert used == (1 if with_otpk else None)
    assert b.peer_identity_key == alice.identity.public
    assert b.peer_device_id == alice.device_id


def test_prekey_messages_until_first_reply_then_normal() -> None:
    alice, bob = Device(), Device()
    a = Session.initiate(alice.identity, alice.device_id, bob.device_id, bob.bundle())
    w1, w2 = a.encrypt(b"one"), a.encrypt(b"two")
    assert parse(w1).type is parse(w2).type is EnvelopeType.PREKEY
    b, _ = bob.accept(w1)
    assert b.decrypt(w2) == b"two"  # a second prekey message of the same session
    reply = b.encrypt(b"three")
    assert parse(reply).type is EnvelopeType.MESSAGE
    assert a.sends_prekey_messages
    assert a.decrypt(reply) == b"three"
    assert not a.sends_prekey_messages
    assert parse(a.encrypt(b"four")).type is EnvelopeType.MESSAGE


def test_long_conversation_with_random_interleaving() -> None:
    a, b = pair()
    rng = random.Random(7)
    for i in range(200):
        sender, receiver = (a, b) if rng.random() < 0.5 else (b, a)
        text = f"message {i}".encode() * rng.randint(0, 30)
        assert receiver.decrypt(sender.encrypt(text)) == text


def test_out_of_order_and_lost_messages() -> None:
    a, b = pair()
    wires = [a.encrypt(f"m{i}".encode()) for i in range(10)]
    order = [9, 0, 5, 3, 1, 8]  # 2, 4, 6, 7 are lost
    for i in order:
        assert b.decrypt(wires[i]) == f"m{i}".encode()
    assert a.decrypt(b.encrypt(b"still fine")) == b"still fine"
    assert b.decrypt(wires[7]) == b"m7"  # a lost message may still arrive late


def test_many_interleaved_sessions_stay_independent() -> None:
    hub = Device()
    peers = [Device() for _ in range(8)]
    hub.otpks.update({k + 100: v for k, v in list(hub.otpks.items())})  # ensure enough prekeys
    outgoing, incoming = [], []
    for peer in peers:
        bundle = PreKeyBundle(hub.identity.public, hub.spk.public_part(), None)
        outgoing.append(Session.initiate(peer.identity, peer.device_id, hub.device_id, bundle))
    wires = [s.encrypt(b"from peer %d" % i) for i, s in enumerate(outgoing)]
    for i, w in enumerate(wires):
        session, pt = hub.accept(w)
        assert pt == b"from peer %d" % i
        incoming.append(session)
    for _round in range(5):
        for i in random.Random(_round).sample(range(8), 8):
            assert outgoing[i].decrypt(incoming[i].encrypt(b"r%d" % i)) == b"r%d" % i
            assert incoming[i].decrypt(outgoing[i].encrypt(b"s%d" % i)) == b"s%d" % i
    # A message of one session is refused by another session (its sender is another peer).
    with pytest.raises(WrongSender):
        incoming[0].decrypt(outgoing[1].encrypt(b"x"))


def test_state_survives_serialisation_at_every_step() -> None:
    a, b = pair()
    for i in range(20):
        a = Session.from_bytes(a.to_bytes())
        b = Session.from_bytes(b.to_bytes())
        sender, receiver = (a, b) if i % 3 else (b, a)
        assert receiver.decrypt(sender.encrypt(b"persisted %d" % i)) == b"persisted %d" % i


def test_padding_hides_length_within_a_block() -> None:
    a, _ = pair()
    sizes = {len(a.encrypt(b"x" * n)) for n in range(0, 159)}
    assert len(sizes) == 1
    assert len(a.encrypt(b"x" * 160)) == sizes.pop() + 160


def test_largest_plaintext_fits_the_envelope_limit() -> None:
    alice, bob = Device(), Device()
    a = Session.initiate(alice.identity, alice.device_id, bob.device_id, bob.bundle())
    wire = a.encrypt(bytes(MAX_PLAINTEXT_BYTES))  # prekey messages are the largest kind
    assert len(wire) <= MAX_ENVELOPE_BYTES
    with pytest.raises(TooLarge):
        a.encrypt(bytes(MAX_PLAINTEXT_BYTES + 1))


def test_bad_signed_prekey_signature_is_refused_before_anything() -> None:
    alice, bob = Device(), Device()
    good = bob.bundle()
    sig = bytearray(good.signed_prekey.signature)
    sig[0] ^= 1
    bad = PreKeyBundle(good.identity_key, SignedPreKey(1, good.signed_prekey.public, bytes(sig)), None)
    with pytest.raises(BadSignature):
        Session.initiate(alice.identity, alice.device_id, bob.device_id, bad)
    other = Device()  # a validly signed prekey, but by somebody else's identity key
    forged = PreKeyBundle(good.identity_key, other.spk.public_part(), None)
    with pytest.raises(BadSignature):
        Session.initiate(alice.identity, alice.device_id, bob.device_id, forged)


def test_cannot_start_a_session_with_oneself() -> None:
    me = Device()
    with pytest.raises(InvalidKey):
        Session.initiate(me.identity, me.device_id, os.urandom(16), me.bundle())


def test_accept_refuses_unknown_or_reused_one_time_prekey() -> None:
    alice, bob = Device(), Device()
    a = Session.initiate(alice.identity, alice.device_id, bob.device_id, bob.bundle())
    wire = a.encrypt(b"hi")
    bob.accept(wire)  # consumes the one-time prekey
    with pytest.raises(UnknownPreKey):
        bob.accept(wire)  # a replayed prekey message cannot start a second session
    with pytest.raises(UnknownPreKey):
        Session.accept(bob.identity, bob.device_id, lambda _i: None, bob.otpks.get, wire)


def test_accept_refuses_wrong_recipient_and_normal_messages() -> None:
    alice, bob, carol = Device(), Device(), Device()
    a = Session.initiate(alice.identity, alice.device_id, bob.device_id, bob.bundle())
    wire = a.encrypt(b"hi")
    with pytest.raises(WrongRecipient):
        carol.accept(wire)
    b, _ = bob.accept(wire)
    with pytest.raises(SessionMismatch):
        alice.accept(b.encrypt(b"normal"))


def test_prekey_message_of_a_new_session_is_not_decrypted_by_the_old_one() -> None:
    alice, bob = Device(), Device()
    a1 = Session.initiate(alice.identity, alice.device_id, bob.device_id, bob.bundle())
    b1, _ = bob.accept(a1.encrypt(b"first"))
    a2 = Session.initiate(alice.identity, alice.device_id, bob.device_id, bob.bundle())
    with pytest.raises(SessionMismatch):
        b1.decrypt(a2.encrypt(b"restarted"))


def test_replay_is_refused() -> None:
    a, b = pair()
    wire = a.encrypt(b"once")
    assert b.decrypt(wire) == b"once"
    with pytest.raises(DuplicateMessage):
        b.decrypt(wire)


def test_repr_never_shows_secrets() -> None:
    dev = Device()
    a = Session.initiate(dev.identity, dev.device_id, os.urandom(16), Device().bundle())
    texts = [repr(a), repr(dev.identity), repr(dev.spk), repr(next(iter(dev.otpks.values()))), str(a)]
    secrets = [dev.identity.to_bytes(), dev.spk.key_pair.secret_bytes(), a.to_bytes()[-200:]]
    for text in texts:
        assert "hidden" in text
        for secret in secrets:
            assert secret[:6].hex() not in text


def test_every_error_is_a_crypto_error() -> None:
    a, _ = pair()
    with pytest.raises(CryptoError):
        a.decrypt(b"\x01\x02")
