"""Small builders for two-party tests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from crypto.keys import (
    IdentityKeyPair,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKeyPair,
    generate_one_time_prekeys,
)
from crypto.session import Session


@dataclass
class Device:
    identity: IdentityKeyPair = field(default_factory=IdentityKeyPair.generate)
    device_id: bytes = field(default_factory=lambda: os.urandom(16))
    spk: SignedPreKeyPair = field(init=False)
    otpks: dict[int, OneTimePreKeyPair] = field(init=False)

    def __post_init__(self) -> None:
        self.spk = SignedPreKeyPair.generate(self.identity, 1)
        self.otpks = {k.key_id: k for k in generate_one_time_prekeys(1, 5)}

    def bundle(self, with_otpk: bool = True) -> PreKeyBundle:
        otpk = next(iter(self.otpks.values())).public_part() if with_otpk and self.otpks else None
        return PreKeyBundle(self.identity.public, self.spk.public_part(), otpk)

    def spk_lookup(self, key_id: int) -> SignedPreKeyPair | None:
        return self.spk if key_id == self.spk.key_id else None

    def accept(self, envelope: bytes) -> tuple[Session, bytes]:
        session, plaintext, used = Session.accept(
            self.identity, self.device_id, self.spk_lookup, self.otpks.get, envelope
        )
        if used is not None:
            del self.otpks[used]
        return session, plaintext


def pair(with_otpk: bool = True) -> tuple[Session, Session]:
    """An established pair: Alice initiated, Bob accepted, Bob replied, Alice decrypted."""
    alice, bob = Device(), Device()
    a = Session.initiate(alice.identity, alice.device_id, bob.device_id, bob.bundle(with_otpk))
    b, first = bob.accept(a.encrypt(b"hello"))
    assert first == b"hello"
    assert a.decrypt(b.encrypt(b"hi")) == b"hi"
    return a, b
