"""Version-2 trust primitives: certificates, linking with a relay in the middle, the replay cache."""

from __future__ import annotations

import os

import pytest

from crypto import linking
from crypto.certificate import AccountKeyPair, DeviceCertificate
from crypto.errors import BadCertificate, DecryptionFailed, MalformedState, ReplayedMessage, UnknownPreKey
from crypto.keys import IdentityKeyPair, X25519KeyPair
from crypto.replay import ReplayCache
from crypto.session import Session
from tests.crypto._helpers import Device


def test_a_certificate_binds_account_device_and_key() -> None:
    account, account_id = AccountKeyPair.generate(), os.urandom(16)
    device, device_id = IdentityKeyPair.generate(), os.urandom(16)
    cert = DeviceCertificate.issue(account, account_id, device_id, device.public, 1_700_000_000_000)
    assert DeviceCertificate.from_bytes(cert.to_bytes()) == cert
    cert.verify(account.public, account_id, device_id, device.public)
    planted = IdentityKeyPair.generate().public  # a relay's device presenting a real device's certificate
    assert not cert.is_valid(account.public, account_id, device_id, planted)
    with pytest.raises(BadCertificate):
        cert.verify(AccountKeyPair.generate().public, account_id, device_id, device.public)


def _link(relay_swaps_offer: bool) -> tuple[linking.LinkKeys, linking.LinkKeys, bytes, bytes]:
    """Runs both sides of section 17 with the relay optionally substituting E's key on N's side."""
    new_link, offer = X25519KeyPair.generate(), X25519KeyPair.generate()
    account, account_id = AccountKeyPair.generate(), os.urandom(16)
    device_id, identity = os.urandom(16), IdentityKeyPair.generate()
    code = linking.encode_link_code(new_link.public)
    scanned = linking.parse_link_code(linking.format_link_code(code))  # E types / scans N's code
    relay = X25519KeyPair.generate()
    seen_by_new = relay.public if relay_swaps_offer else offer.public
    t_new = linking.transcript(new_link.public, seen_by_new, account_id, device_id, identity.public)
    t_old = linking.transcript(scanned, offer.public, account_id, device_id, identity.public)
    keys_new = linking.derive_link_keys(new_link, seen_by_new, t_new)
    keys_old = linking.derive_link_keys(offer, scanned, t_old)
    cert = DeviceCertificate.issue(account, account_id, device_id, identity.public, 1)
    sealed = linking.seal_bundle(keys_old, linking.AccountBundle(account_id, account, cert, {1: b"v" * 32}))
    return keys_new, keys_old, sealed, account.public.to_bytes()


def test_linking_both_sides_show_the_same_string_and_the_new_device_gets_the_account_key() -> None:
    keys_new, keys_old, sealed, account_public = _link(relay_swaps_offer=False)
    assert keys_new.comparison == keys_old.comparison
    bundle = linking.open_bundle(keys_new, sealed)
    assert bundle.account_key.public.to_bytes() == account_public
    assert bundle.secrets == {1: b"v" * 32}


def test_a_relay_that_swaps_a_link_key_shows_different_strings_and_cannot_read_the_bundle() -> None:
    keys_new, keys_old, sealed, _ = _link(relay_swaps_offer=True)
    assert keys_new.comparison != keys_old.comparison  # 1 in 10^6 to collide; the person cancels
    with pytest.raises(DecryptionFailed):
        linking.open_bundle(keys_new, sealed)


def test_account_bundle_parsing_is_strict_and_keeps_unknown_secrets() -> None:
    account, cert = AccountKeyPair.generate(), DeviceCertificate(5, bytes(64))
    bundle = linking.AccountBundle(os.urandom(16), account, cert, {0x01: b"k" * 32, 0x42: b"future"})
    raw = bundle.to_bytes()
    again = linking.AccountBundle.from_bytes(raw)
    assert again.secrets == {0x01: b"k" * 32, 0x42: b"future"}
    assert again.to_bytes() == raw
    with pytest.raises(MalformedState):
        linking.AccountBundle.from_bytes(raw + b"\x00")
    swapped = bytearray(raw)
    first = 1 + 16 + 32 + 72 + 1
    swapped[first] = 0x50  # now 0x50 then 0x42: out of order
    with pytest.raises(MalformedState):
        linking.AccountBundle.from_bytes(bytes(swapped))


def test_a_replayed_session_start_without_one_time_prekey_is_refused_and_changes_nothing() -> None:
    alice, bob = Device(), Device()
    session = Session.initiate(alice.identity, alice.device_id, bob.device_id, bob.bundle(with_otpk=False))
    first = session.encrypt(b"first")
    cache = ReplayCache()
    _session, plaintext, used = Session.accept(
        bob.identity, bob.device_id, bob.spk_lookup, bob.otpks.get, first, replay_cache=cache
    )
    assert (plaintext, used, len(cache)) == (b"first", None, 1)
    before = cache.to_bytes()
    with pytest.raises(ReplayedMessage):
        Session.accept(bob.identity, bob.device_id, bob.spk_lookup, bob.otpks.get, first, replay_cache=cache)
    assert cache.to_bytes() == before
    restored = ReplayCache.from_bytes(before)  # the cache survives a restart with the keystore
    with pytest.raises(ReplayedMessage):
        Session.accept(
            bob.identity, bob.device_id, bob.spk_lookup, bob.otpks.get, first, replay_cache=restored
        )
    # Once the signed prekey is deleted (after its grace period) the entry goes, and a replay is unreadable.
    restored.forget_signed_prekey(bob.spk.key_id)
    assert len(restored) == 0
    with pytest.raises(UnknownPreKey):
        Session.accept(
            bob.identity, bob.device_id, lambda _id: None, bob.otpks.get, first, replay_cache=restored
        )
