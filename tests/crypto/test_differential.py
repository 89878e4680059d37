"""Differential tests against Syndace's independent `x3dh` and `doubleratchet` packages.

Both are configured to Confidant's instantiation through their hooks (docs/PROTOCOL.md §3, §4):
X3DH with Ed25519 identity keys, SHA-256, info "confidant-x3dh-v1", Encode(IK) = 0x06 || key; the
Double Ratchet with KDF_RK = HKDF-SHA256 (salt = RK, info "confidant-ratchet-v1"), KDF_CK = HMAC-SHA256
with constants 0x02 (chain key) / 0x01 (message key), and an AEAD hook performing Confidant's ENCRYPT
(message-key HKDF computed with the independent `cryptography` package). What cannot match is listed in
tests/vectors/README.md ("Differential testing").
"""

from __future__ import annotations

import os
import struct
from typing import Any, ClassVar

import doubleratchet
import pytest
import x3dh as sx3dh
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from doubleratchet.recommended import (
    HashFunction,
    diffie_hellman_ratchet_curve25519,
    kdf_hkdf,
    kdf_separate_hmacs,
)
from x3dh.identity_key_pair import IdentityKeyPairSeed

from crypto import primitives as p
from crypto import x3dh
from crypto.keys import (
    IdentityKeyPair,
    OneTimePreKey,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKey,
    SignedPreKeyPair,
    X25519KeyPair,
    X25519PublicKey,
)
from crypto.limits import MAX_SKIP, MAX_SKIPPED_KEYS
from crypto.ratchet import MK_INFO, RK_INFO, DoubleRatchet, Header

# --- X3DH ---------------------------------------------------------------------------------------------


class _State(sx3dh.BaseState):
    @staticmethod
    def _encode_public_key(key_format: sx3dh.IdentityKeyFormat, pub: bytes) -> bytes:
        return (b"\x06" if key_format is sx3dh.IdentityKeyFormat.ED_25519 else b"\x05") + pub


def _their_state(seed: bytes) -> _State:
    return _State.create(
        sx3dh.IdentityKeyFormat.ED_25519,
        sx3dh.HashFunction.SHA_256,
        x3dh.X3DH_INFO,
        IdentityKeyPairSeed(seed),
    )


@pytest.mark.parametrize("with_otpk", [True, False])
async def test_x3dh_theirs_active_ours_passive(with_otpk: bool) -> None:
    alice_seed = os.urandom(32)
    bob = IdentityKeyPair.generate()
    spk = SignedPreKeyPair.generate(bob, 11)
    otpk = OneTimePreKeyPair(12, X25519KeyPair.generate())
    spk_pub = spk.key_pair.public.to_bytes()
    # Syndace signs/verifies Encode(SPK) = 0x05 || SPK (no domain separation, no id): see the README.
    their_bundle = sx3dh.Bundle(
        identity_key=bob.public.to_bytes(),
        signed_pre_key=spk_pub,
        signed_pre_key_sig=bob.sign(b"\x05" + spk_pub),
        pre_keys=frozenset({otpk.key_pair.public.to_bytes()} if with_otpk else set()),
    )
    sk, ad, header = await _their_state(alice_seed).get_shared_secret_active(
        their_bundle, require_pre_key=False
    )
    assert header.identity_key == IdentityKeyPair(alice_seed).public.to_bytes()
    message = x3dh.InitialMessage(
        IdentityKeyPair(alice_seed).public,
        X25519PublicKey(header.ephemeral_key),
        11,
        12 if with_otpk else None,
    )
    ours = x3dh.respond(bob, spk, otpk if with_otpk else None, message)
    assert (ours.key, ours.associated_data) == (sk, ad)


@pytest.mark.parametrize("with_otpk", [True, False])
async def test_x3dh_ours_active_theirs_passive(with_otpk: bool) -> None:
    bob_seed = os.urandom(32)
    state = _their_state(bob_seed)
    state.generate_pre_keys(3)
    tb = state.bundle
    bob = IdentityKeyPair(bob_seed)
    assert tb.identity_key == bob.public.to_bytes()
    spk = SignedPreKey(
        5,
        X25519PublicKey(tb.signed_pre_key),
        bob.sign(b"confidant-signed-prekey-v1" + struct.pack(">I", 5) + tb.signed_pre_key),
    )
    otpk_pub = sorted(tb.pre_keys)[0]
    bundle = PreKeyBundle(bob.public, spk, OneTimePreKey(6, X25519PublicKey(otpk_pub)) if with_otpk else None)
    alice = IdentityKeyPair.generate()
    message, ours = x3dh.initiate(alice, bundle)
    their_header = sx3dh.Header(
        identity_key=alice.public.to_bytes(),
        ephemeral_key=message.ephemeral_key.to_bytes(),
        signed_pre_key=tb.signed_pre_key,
        pre_key=otpk_pub if with_otpk else None,
    )
    sk, ad, _ = await state.get_shared_secret_passive(their_header, require_pre_key=False)
    assert (ours.key, ours.associated_data) == (sk, ad)


# --- Double Ratchet -----------------------------------------------------------------------------------


class _RootKDF(kdf_hkdf.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return RK_INFO


class _ChainKDF(kdf_separate_hmacs.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256


CHAIN_CONSTANT = b"\x02\x01"  # output = HMAC(ck, 0x02) (next chain key) || HMAC(ck, 0x01) (message key)


class _AEAD(doubleratchet.aead.AEAD):
    @staticmethod
    def _material(key: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=56, salt=bytes(32), info=MK_INFO).derive(key)

    @staticmethod
    async def encrypt(plaintext: bytes, key: bytes, associated_data: bytes) -> bytes:
        m = _AEAD._material(key)
        return p.aead_encrypt(m[:32], m[32:], plaintext, associated_data)

    @staticmethod
    async def decrypt(ciphertext: bytes, key: bytes, associated_data: bytes) -> bytes:
        m = _AEAD._material(key)
        return p.aead_decrypt(m[:32], m[32:], ciphertext, associated_data)


class _Ratchet(doubleratchet.DoubleRatchet):
    @staticmethod
    def _build_associated_data(associated_data: bytes, header: doubleratchet.Header) -> bytes:
        return (
            associated_data
            + header.ratchet_pub
            + struct.pack(">II", header.previous_sending_chain_length, header.sending_chain_length)
        )


def _dh_class(keys: list[bytes]) -> type[diffie_hellman_ratchet_curve25519.DiffieHellmanRatchet]:
    """A DH ratchet whose GENERATE_DH takes the next key from `keys` (for identical outputs)."""

    class _DH(diffie_hellman_ratchet_curve25519.DiffieHellmanRatchet):
        queue: ClassVar[list[bytes]] = keys

        @staticmethod
        def _generate_priv() -> bytes:
            return _DH.queue.pop(0) if _DH.queue else os.urandom(32)

    return _DH


CONFIG: dict[str, Any] = {
    "root_chain_kdf": _RootKDF,
    "message_chain_kdf": _ChainKDF,
    "message_chain_constant": CHAIN_CONSTANT,
    "dos_protection_threshold": MAX_SKIP,
    "max_num_skipped_message_keys": MAX_SKIPPED_KEYS,
    "aead": _AEAD,
}
AD = os.urandom(66)


def _theirs(header: Header, ciphertext: bytes) -> doubleratchet.EncryptedMessage:
    return doubleratchet.EncryptedMessage(
        header=doubleratchet.Header(header.dh.to_bytes(), header.pn, header.n), ciphertext=ciphertext
    )


def _ours(message: doubleratchet.EncryptedMessage) -> tuple[Header, bytes]:
    h = message.header
    return Header(X25519PublicKey(h.ratchet_pub), h.previous_sending_chain_length, h.sending_chain_length), (
        message.ciphertext
    )


async def test_ratchet_same_inputs_same_outputs() -> None:
    """Alice as ours and as theirs, same SK and same DH keys: identical headers and ciphertexts."""
    sk = os.urandom(32)
    bob_spk = X25519KeyPair.generate()
    alice_keys = [os.urandom(32) for _ in range(8)]
    ours = DoubleRatchet.init_alice(sk, bob_spk.public, X25519KeyPair(alice_keys[0]))
    ours_header, ours_ct = ours.encrypt(b"first", AD)
    theirs, first = await _Ratchet.encrypt_initial_message(
        diffie_hellman_ratchet_class=_dh_class(list(alice_keys)),
        shared_secret=sk,
        recipient_ratchet_pub=bob_spk.public.to_bytes(),
        message=b"first",
        associated_data=AD,
        **CONFIG,
    )
    assert _ours(first) == (ours_header, ours_ct)
    # Bob (ours) answers; both Alices decrypt the same replies and keep producing identical output.
    bob = DoubleRatchet.init_bob(sk, bob_spk)
    assert bob.decrypt(ours_header, ours_ct, AD) == b"first"
    key_index = 1
    for round_ in range(4):
        replies = [bob.encrypt(b"reply %d.%d" % (round_, i), AD) for i in range(3)]
        for h, c in reversed(replies):  # out of order
            step_key = X25519KeyPair(alice_keys[key_index]) if h.n == 2 else None
            assert ours.decrypt(h, c, AD, step_key) == await theirs.decrypt_message(_theirs(h, c), AD)
        key_index += 1
        for i in range(2):
            h1, c1 = ours.encrypt(b"msg %d.%d" % (round_, i), AD)
            m2 = await theirs.encrypt_message(b"msg %d.%d" % (round_, i), AD)
            assert _ours(m2) == (h1, c1)
            assert bob.decrypt(h1, c1, AD) == b"msg %d.%d" % (round_, i)


async def test_ratchet_interoperates_with_theirs_in_both_directions() -> None:
    """Ours as Alice, theirs as Bob (random keys on their side), messages delivered out of order."""
    sk = os.urandom(32)
    bob_spk = X25519KeyPair.generate()
    alice = DoubleRatchet.init_alice(sk, bob_spk.public)
    h, c = alice.encrypt(b"hello", AD)
    bob, plaintext = await _Ratchet.decrypt_initial_message(
        diffie_hellman_ratchet_class=_dh_class([]),
        shared_secret=sk,
        own_ratchet_priv=bob_spk.secret_bytes(),
        message=_theirs(h, c),
        associated_data=AD,
        **CONFIG,
    )
    assert plaintext == b"hello"
    for round_ in range(5):
        from_bob = [await bob.encrypt_message(b"b%d.%d" % (round_, i), AD) for i in range(4)]
        for i in (3, 1, 0, 2):
            assert alice.decrypt(*_ours(from_bob[i]), AD) == b"b%d.%d" % (round_, i)
        from_alice = [alice.encrypt(b"a%d.%d" % (round_, i), AD) for i in range(4)]
        for i in (2, 0, 3):  # one lost
            assert await bob.decrypt_message(_theirs(*from_alice[i]), AD) == b"a%d.%d" % (round_, i)
    assert await bob.decrypt_message(_theirs(*from_alice[1]), AD) == b"a4.1"  # late arrival
