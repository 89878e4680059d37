"""Typed values that the transport hands to services after validation (already decoded to bytes)."""

from __future__ import annotations

from dataclasses import dataclass

from storage.records import OneTimePrekey, Role, SignedPrekey

__all__ = ["ConsentSignature", "DeviceKeys", "Envelope", "Principal", "SendRequest"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the result of authenticating a bearer token."""

    account_id: str
    device_id: str
    role: Role
    token_hash: bytes
    expires_at: int


@dataclass(frozen=True, slots=True)
class DeviceKeys:
    device_id: str  # drawn by the device: its certificate binds it
    identity_key: bytes
    certificate: bytes  # created_at u64 || account-key signature (docs/PROTOCOL.md section 16)
    signed_prekey: SignedPrekey
    one_time_prekeys: tuple[OneTimePrekey, ...]

    @property
    def certificate_created_at(self) -> int:
        return int.from_bytes(self.certificate[:8], "big")


@dataclass(frozen=True, slots=True)
class ConsentSignature:
    therapist_id: str
    version: int
    terms_hash: bytes
    signed_at: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    to_device: str
    type: str
    ciphertext: bytes
    ciphertext_b64: str  # the wire form, pushed live as received (no re-encoding on the hot path)


@dataclass(frozen=True, slots=True)
class SendRequest:
    message_id: str
    to_account: str
    envelopes: tuple[Envelope, ...]
