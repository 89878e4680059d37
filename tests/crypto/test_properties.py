"""Property-based tests: envelope codec and arbitrary delivery orders."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.envelope import Envelope, EnvelopeType, parse, peek
from crypto.errors import CryptoError, DuplicateMessage
from crypto.keys import IdentityKeyPair, X25519KeyPair
from crypto.ratchet import Header
from crypto.session import Session
from crypto.x3dh import InitialMessage
from tests.crypto._helpers import pair

IDENTITY = IdentityKeyPair.generate().public
KEYS = [X25519KeyPair.generate().public for _ in range(4)]
u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def envelopes(draw: st.DrawFn) -> Envelope:
    type_ = draw(st.sampled_from(EnvelopeType))
    initial = None
    if type_ is EnvelopeType.PREKEY:
        initial = InitialMessage(IDENTITY, draw(st.sampled_from(KEYS)), draw(u32), draw(st.none() | u32))
    blocks = draw(st.integers(1, 5))
    return Envelope(
        type=type_,
        sender_device=draw(st.binary(min_size=16, max_size=16)),
        recipient_device=draw(st.binary(min_size=16, max_size=16)),
        initial_message=initial,
        header=Header(draw(st.sampled_from(KEYS)), draw(u32), draw(u32)),
        ciphertext=draw(st.binary(min_size=16 + 160 * blocks, max_size=16 + 160 * blocks)),
    )


@settings(max_examples=200, deadline=None, database=None)
@given(envelopes())
def test_envelope_codec_round_trips(env: Envelope) -> None:
    raw = env.to_bytes()
    assert parse(raw) == env
    info = peek(raw)
    assert (info.type, info.sender_device, info.recipient_device) == (
        env.type,
        env.sender_device,
        env.recipient_device,
    )


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=400))
def test_parse_of_arbitrary_bytes_is_typed_and_canonical(raw: bytes) -> None:
    try:
        env = parse(raw)
    except CryptoError:
        return
    assert env.to_bytes() == raw


@settings(max_examples=200, deadline=None, database=None)
@given(envelopes(), st.data())
def test_single_byte_mutations_never_crash(env: Envelope, data: st.DataObject) -> None:
    raw = bytearray(env.to_bytes())
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] = data.draw(st.integers(0, 255))
    with contextlib.suppress(CryptoError):
        assert parse(bytes(raw)).to_bytes() == bytes(raw)


@pytest.fixture(scope="module")
def template() -> tuple[bytes, bytes]:
    a, b = pair()
    return a.to_bytes(), b.to_bytes()


@settings(max_examples=40, deadline=None, database=None)
@given(st.data())
def test_any_delivery_order_with_losses_and_duplicates(
    template: tuple[bytes, bytes], data: st.DataObject
) -> None:
    a, b = Session.from_bytes(template[0]), Session.from_bytes(template[1])
    n = data.draw(st.integers(1, 25))
    # Messages from both directions, sent in bursts, some replies in between.
    a_to_b = [a.encrypt(b"a%d" % i) for i in range(n)]
    order = data.draw(st.permutations(range(n)))
    keep = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    delivered = [i for i in order if keep[i]]
    for i in delivered:
        assert b.decrypt(a_to_b[i]) == b"a%d" % i
    reply = b.encrypt(b"reply")
    assert a.decrypt(reply) == b"reply"
    for i in delivered[:3]:
        before = b.to_bytes()
        with pytest.raises(DuplicateMessage):
            b.decrypt(a_to_b[i])
        assert b.to_bytes() == before
    late = [i for i in range(n) if not keep[i]]
    for i in late:  # lost messages arriving after a DH ratchet step are still readable
        assert b.decrypt(a_to_b[i]) == b"a%d" % i
