"""The Double Ratchet, exactly per Signal's "The Double Ratchet Algorithm" (rev. 1, 2016-11-20), section 3.

Instantiation (docs/PROTOCOL.md, "Double Ratchet"):
    GENERATE_DH: X25519.  KDF_RK(rk, dh_out) = HKDF-SHA256(IKM = dh_out, salt = rk, info = RK_INFO, L = 64)
    split into (rk', ck).  KDF_CK(ck): mk = HMAC-SHA256(ck, 0x01), ck' = HMAC-SHA256(ck, 0x02).
    ENCRYPT(mk, pt, ad): HKDF-SHA256(IKM = mk, salt = 32 zero bytes, info = MK_INFO, L = 56) split into
    key (32) || nonce (24); XChaCha20-Poly1305-IETF(key, nonce, pt, ad).  CONCAT(ad, header) = ad || header.
    Header (40 bytes): dh (32) || pn (u32 BE) || n (u32 BE).

Skipped message keys: at most MAX_SKIP per chain step (else `TooManySkippedMessages`), at most
MAX_SKIPPED_KEYS stored (oldest evicted first). Decryption is transactional: it works on a copy of the
state and commits only on success, so any failure leaves the state exactly as it was.

State layout (`to_bytes`, version 1, integers big-endian):
    version u8 = 1 | flags u8 (bit0 DHr, bit1 CKs, bit2 CKr present) | DHs secret 32 | [DHr 32] | RK 32 |
    [CKs 32] | [CKr 32] | Ns u32 | Nr u32 | PN u32 | prev_count u8 | prev_count x DHr' 32 |
    skipped_count u32 | skipped_count x (dh 32 | n u32 | mk 32)      (lists oldest first)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from crypto import primitives as p
from crypto.errors import (
    CryptoError,
    DuplicateMessage,
    MalformedEnvelope,
    MalformedState,
    TooManySkippedMessages,
    UnsupportedVersion,
)
from crypto.keys import X25519KeyPair, X25519PublicKey
from crypto.limits import MAX_PREVIOUS_CHAINS, MAX_SKIP, MAX_SKIPPED_KEYS

__all__ = [
    "HEADER_SIZE",
    "MK_INFO",
    "RK_INFO",
    "STATE_VERSION",
    "DoubleRatchet",
    "Header",
    "kdf_ck",
    "kdf_rk",
]

RK_INFO: Final = b"confidant-ratchet-v1"
MK_INFO: Final = b"confidant-message-keys-v1"
HEADER_SIZE: Final = 40
STATE_VERSION: Final = 1
_U32_MAX: Final = 0xFFFFFFFF


def kdf_rk(rk: bytes, dh_out: bytes) -> tuple[bytes, bytes]:
    okm = p.hkdf_sha256(dh_out, rk, RK_INFO, 64)
    return okm[:32], okm[32:]


def kdf_ck(ck: bytes) -> tuple[bytes, bytes]:
    """(next chain key, message key)."""
    return p.hmac_sha256(ck, b"\x02"), p.hmac_sha256(ck, b"\x01")


def _message_key_material(mk: bytes) -> tuple[bytes, bytes]:
    okm = p.hkdf_sha256(mk, bytes(32), MK_INFO, p.AEAD_KEY_SIZE + p.AEAD_NONCE_SIZE)
    return okm[: p.AEAD_KEY_SIZE], okm[p.AEAD_KEY_SIZE :]


def _encrypt(mk: bytes, plaintext: bytes, ad: bytes) -> bytes:
    key, nonce = _message_key_material(mk)
    return p.aead_encrypt(key, nonce, plaintext, ad)


def _decrypt(mk: bytes, ciphertext: bytes, ad: bytes) -> bytes:
    key, nonce = _message_key_material(mk)
    return p.aead_decrypt(key, nonce, ciphertext, ad)


@dataclass(frozen=True)
class Header:
    dh: X25519PublicKey
    pn: int
    n: int

    def to_bytes(self) -> bytes:
        return self.dh.to_bytes() + struct.pack(">II", self.pn, self.n)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Header:
        if len(raw) != HEADER_SIZE:
            raise MalformedEnvelope("ratchet header has the wrong size")
        pn, n = struct.unpack(">II", raw[32:])
        return cls(X25519PublicKey(raw[:32]), pn, n)


@dataclass
class _State:
    dhs: X25519KeyPair
    dhr: X25519PublicKey | None
    rk: bytes
    cks: bytes | None
    ckr: bytes | None
    ns: int = 0
    nr: int = 0
    pn: int = 0
    previous: list[X25519PublicKey] = field(default_factory=list)
    skipped: dict[tuple[bytes, int], bytes] = field(default_factory=dict)

    def copy(self) -> _State:
        return _State(
            self.dhs,
            self.dhr,
            self.rk,
            self.cks,
            self.ckr,
            self.ns,
            self.nr,
            self.pn,
            list(self.previous),
            dict(self.skipped),
        )


class DoubleRatchet:
    """One party's ratchet state. Never logged or repr'd with content; persist it with `to_bytes`."""

    __slots__ = ("_s",)

    def __init__(self, state: _State) -> None:
        self._s = state

    @classmethod
    def init_alice(
        cls, sk: bytes, bob_public: X25519PublicKey, key_pair: X25519KeyPair | None = None
    ) -> DoubleRatchet:
        dhs = key_pair or X25519KeyPair.generate()
        rk, cks = kdf_rk(sk, dhs.dh(bob_public))
        return cls(_State(dhs=dhs, dhr=bob_public, rk=rk, cks=cks, ckr=None))

    @classmethod
    def init_bob(cls, sk: bytes, key_pair: X25519KeyPair) -> DoubleRatchet:
        return cls(_State(dhs=key_pair, dhr=None, rk=sk, cks=None, ckr=None))

    @property
    def can_send(self) -> bool:
        return self._s.cks is not None

    def encrypt(self, plaintext: bytes, ad: bytes) -> tuple[Header, bytes]:
        s = self._s
        if s.cks is None:
            raise CryptoError("this side has not received a message yet and cannot send")
        if s.ns >= _U32_MAX:
            raise CryptoError("sending chain exhausted")
        cks, mk = kdf_ck(s.cks)
        header = Header(s.dhs.public, s.pn, s.ns)
        ciphertext = _encrypt(mk, plaintext, ad + header.to_bytes())
        s.cks, s.ns = cks, s.ns + 1
        return header, ciphertext

    def decrypt(
        self, header: Header, ciphertext: bytes, ad: bytes, new_key_pair: X25519KeyPair | None = None
    ) -> bytes:
        """Decrypt and commit; on any error the state is unchanged.

        `new_key_pair` is the key used if this message triggers a DH ratchet step (vectors only).
        """
        s = self._s.copy()
        full_ad = ad + header.to_bytes()
        slot = (header.dh.to_bytes(), header.n)
        mk = s.skipped.pop(slot, None)
        if mk is not None:
            plaintext = _decrypt(mk, ciphertext, full_ad)
            self._s = s
            return plaintext
        if header.dh in s.previous or (header.dh == s.dhr and header.n < s.nr):
            raise DuplicateMessage("message already decrypted or its key is no longer stored")
        if header.dh != s.dhr:
            _skip(s, header.pn)
            _dh_ratchet(s, header, new_key_pair or X25519KeyPair.generate())
        _skip(s, header.n)
        assert s.ckr is not None
        s.ckr, mk = kdf_ck(s.ckr)
        s.nr += 1
        plaintext = _decrypt(mk, ciphertext, full_ad)
        self._s = s
        return plaintext

    def copy(self) -> DoubleRatchet:
        return DoubleRatchet(self._s.copy())

    def to_bytes(self) -> bytes:
        s = self._s
        flags = (s.dhr is not None) | (s.cks is not None) << 1 | (s.ckr is not None) << 2
        out = [bytes([STATE_VERSION, flags]), s.dhs.secret_bytes()]
        if s.dhr is not None:
            out.append(s.dhr.to_bytes())
        out.append(s.rk)
        out.extend(x for x in (s.cks, s.ckr) if x is not None)
        out.append(struct.pack(">IIIB", s.ns, s.nr, s.pn, len(s.previous)))
        out.extend(k.to_bytes() for k in s.previous)
        out.append(struct.pack(">I", len(s.skipped)))
        out.extend(dh + struct.pack(">I", n) + mk for (dh, n), mk in s.skipped.items())
        return b"".join(out)

    @classmethod
    def from_bytes(cls, raw: bytes) -> DoubleRatchet:
        r = _Reader(raw)
        version = r.u8()
        if version != STATE_VERSION:
            raise UnsupportedVersion(f"ratchet state version {version} is not supported")
        flags = r.u8()
        if flags & ~0x07:
            raise MalformedState("unknown ratchet state flags")
        try:
            dhs = X25519KeyPair(r.take(32))
            dhr = X25519PublicKey(r.take(32)) if flags & 1 else None
            rk = r.take(32)
            cks = r.take(32) if flags & 2 else None
            ckr = r.take(32) if flags & 4 else None
            ns, nr, pn, n_prev = r.u32(), r.u32(), r.u32(), r.u8()
            if n_prev > MAX_PREVIOUS_CHAINS:
                raise MalformedState("too many previous chains")
            previous = [X25519PublicKey(r.take(32)) for _ in range(n_prev)]
            n_skipped = r.u32()
            if n_skipped > MAX_SKIPPED_KEYS:
                raise MalformedState("too many skipped keys")
            skipped: dict[tuple[bytes, int], bytes] = {}
            for _ in range(n_skipped):
                dh, n, mk = r.take(32), r.u32(), r.take(32)
                skipped[(dh, n)] = mk
        except CryptoError as exc:
            if isinstance(exc, MalformedState):
                raise
            raise MalformedState("ratchet state holds an invalid key") from None
        r.end()
        return cls(_State(dhs, dhr, rk, cks, ckr, ns, nr, pn, previous, skipped))

    def __repr__(self) -> str:
        return "DoubleRatchet(<hidden>)"


def _skip(s: _State, until: int) -> None:
    if s.nr + MAX_SKIP < until:
        raise TooManySkippedMessages(f"message is more than {MAX_SKIP} messages ahead")
    if s.ckr is None:
        return
    dhr = s.dhr
    assert dhr is not None
    while s.nr < until:
        s.ckr, mk = kdf_ck(s.ckr)
        s.skipped[(dhr.to_bytes(), s.nr)] = mk
        s.nr += 1
    while len(s.skipped) > MAX_SKIPPED_KEYS:
        del s.skipped[next(iter(s.skipped))]


def _dh_ratchet(s: _State, header: Header, new_key_pair: X25519KeyPair) -> None:
    if s.dhr is not None:
        s.previous.append(s.dhr)
        del s.previous[:-MAX_PREVIOUS_CHAINS]
    s.pn, s.ns, s.nr = s.ns, 0, 0
    s.dhr = header.dh
    s.rk, s.ckr = kdf_rk(s.rk, s.dhs.dh(s.dhr))
    s.dhs = new_key_pair
    s.rk, s.cks = kdf_rk(s.rk, s.dhs.dh(s.dhr))


class _Reader:
    """Strict reader over a byte string: reading past the end or leaving bytes raises MalformedState."""

    def __init__(self, raw: bytes) -> None:
        self._raw, self._pos = raw, 0

    def take(self, n: int) -> bytes:
        if self._pos + n > len(self._raw):
            raise MalformedState("state is truncated")
        out = self._raw[self._pos : self._pos + n]
        self._pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def end(self) -> None:
        if self._pos != len(self._raw):
            raise MalformedState("trailing bytes after state")
