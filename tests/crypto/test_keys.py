"""Key classes, sizes, serialisation, and the server-facing signature check."""

from __future__ import annotations

import os

import pytest

from crypto import primitives as p
from crypto.errors import BadSignature, InvalidKey, MalformedEnvelope, MalformedState, UnsupportedVersion
from crypto.keys import (
    IdentityKeyPair,
    IdentityPublicKey,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKeyPair,
    X25519KeyPair,
    X25519PublicKey,
    signed_prekey_message,
    verify_signature,
    verify_signed_prekey,
)
from crypto.padding import pad, unpad
from crypto.ratchet import DoubleRatchet
from crypto.session import Session
from tests.crypto._helpers import pair


def test_server_signature_check_accepts_valid_and_refuses_anything_else() -> None:
    ik = IdentityKeyPair.generate()
    msg = b"confidant-auth-v1" + os.urandom(32) + os.urandom(16)
    sig = ik.sign(msg)
    verify_signature(ik.public.to_bytes(), msg, sig)
    with pytest.raises(BadSignature):
        verify_signature(ik.public.to_bytes(), msg + b"x", sig)
    with pytest.raises(BadSignature):
        verify_signature(IdentityKeyPair.generate().public.to_bytes(), msg, sig)
    with pytest.raises(BadSignature):
        verify_signature(ik.public.to_bytes(), msg, sig[:63])
    with pytest.raises(InvalidKey):
        verify_signature(ik.public.to_bytes()[:31], msg, sig)


def test_signed_prekey_signature_binds_id_and_key() -> None:
    ik = IdentityKeyPair.generate()
    spk = SignedPreKeyPair.generate(ik, 7)
    pub = spk.key_pair.public.to_bytes()
    verify_signed_prekey(ik.public.to_bytes(), 7, pub, spk.signature)
    with pytest.raises(BadSignature):
        verify_signed_prekey(ik.public.to_bytes(), 8, pub, spk.signature)
    with pytest.raises(BadSignature):  # a raw signature over the bare key is not accepted
        verify_signed_prekey(ik.public.to_bytes(), 7, pub, ik.sign(pub))
    assert signed_prekey_message(7, pub) == b"confidant-signed-prekey-v1" + b"\x00\x00\x00\x07" + pub


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_wrong_key_sizes_are_refused(size: int) -> None:
    raw = os.urandom(size)
    for cls in (X25519PublicKey, IdentityPublicKey):
        with pytest.raises(InvalidKey):
            cls(raw)
    with pytest.raises(InvalidKey):
        X25519KeyPair(raw)
    with pytest.raises(InvalidKey):
        IdentityKeyPair(raw)
    with pytest.raises(InvalidKey):
        p.aead_encrypt(raw, bytes(24), b"", b"")


def test_low_order_points_are_refused() -> None:
    kp = X25519KeyPair.generate()
    with pytest.raises(InvalidKey):
        kp.dh(X25519PublicKey(bytes(32)))
    with pytest.raises(InvalidKey):
        IdentityPublicKey(bytes(32))


def test_keys_serialise_and_compare_in_constant_time_semantics() -> None:
    ik = IdentityKeyPair.generate()
    assert IdentityKeyPair.from_bytes(ik.to_bytes()) == ik
    spk = SignedPreKeyPair.generate(ik, 3)
    again = SignedPreKeyPair.from_bytes(spk.to_bytes())
    assert again.public_part() == spk.public_part()
    otpk = OneTimePreKeyPair(9, X25519KeyPair.generate())
    assert OneTimePreKeyPair.from_bytes(otpk.to_bytes()).public_part() == otpk.public_part()
    for bundle in (
        PreKeyBundle(ik.public, spk.public_part(), otpk.public_part()),
        PreKeyBundle(ik.public, spk.public_part()),
    ):
        assert PreKeyBundle.from_bytes(bundle.to_bytes()) == bundle
    with pytest.raises(MalformedEnvelope):
        PreKeyBundle.from_bytes(PreKeyBundle(ik.public, spk.public_part()).to_bytes()[:-1] + b"\x01")
    with pytest.raises(InvalidKey):
        SignedPreKeyPair.from_bytes(spk.to_bytes()[:-1])
    assert X25519PublicKey(b"\x01" * 32) != IdentityPublicKey(ik.public.to_bytes())  # type matters
    assert len({X25519PublicKey(b"\x09" * 32), X25519PublicKey(b"\x09" * 32)}) == 1


def test_padding_round_trips_and_rejects_garbage() -> None:
    for n in (0, 1, 158, 159, 160, 161, 1000):
        padded = pad(b"\x00" * n)
        assert len(padded) % 160 == 0 and len(padded) > n
        assert unpad(padded) == b"\x00" * n
    for bad in (b"", bytes(160), b"\x01" * 160, b"\x80" + bytes(100)):
        with pytest.raises(Exception) as info:
            unpad(bad)
        assert type(info.value).__name__ == "DecryptionFailed"


def test_corrupt_serialised_state_is_refused_with_typed_errors() -> None:
    a, _ = pair()
    raw = a.to_bytes()
    with pytest.raises(UnsupportedVersion):
        Session.from_bytes(b"\x09" + raw[1:])
    for cut in (0, 10, 140, len(raw) - 1):
        with pytest.raises((MalformedState, UnsupportedVersion)):
            Session.from_bytes(raw[:cut])
    with pytest.raises(MalformedState):
        Session.from_bytes(raw + b"\x00")
    with pytest.raises(MalformedState):
        DoubleRatchet.from_bytes(b"\x01\xff" + bytes(200))


def test_hkdf_matches_rfc5869_test_case_1() -> None:
    ikm = bytes.fromhex("0b" * 22)
    salt = bytes.fromhex("000102030405060708090a0b0c")
    info = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    okm = p.hkdf_sha256(ikm, salt, info, 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_wire_encodings_are_strict() -> None:
    from crypto import encoding

    data = os.urandom(33)
    assert encoding.b64decode(encoding.b64encode(data)) == data
    for bad in ("abc", "ab=c", "YQ", "YR==", "a b="):
        with pytest.raises(MalformedEnvelope):
            encoding.b64decode(bad)
    device = os.urandom(16)
    assert encoding.device_id_from_hex(encoding.device_id_to_hex(device)) == device
    for bad in (device.hex().upper(), device.hex()[:-2], "zz" * 16):
        with pytest.raises(MalformedEnvelope):
            encoding.device_id_from_hex(bad)
