"""Boxed signaling, keystore wrapping, safety numbers and attachments."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest

from crypto import attachments, boxed, fingerprint, keywrap
from crypto.errors import (
    BadSignature,
    DecryptionFailed,
    MalformedState,
    ReplayedSignal,
    StreamTruncated,
    TooLarge,
    UnsupportedVersion,
    WrongContext,
)
from crypto.keys import IdentityKeyPair
from crypto.limits import ATTACHMENT_CHUNK_BYTES, MAX_SIGNAL_PLAINTEXT_BYTES

# --- boxed signaling ----------------------------------------------------------------------------------

CALLER, CALLEE, MALLORY = IdentityKeyPair.generate(), IdentityKeyPair.generate(), IdentityKeyPair.generate()
CALL, DEV_A, DEV_B = os.urandom(16), os.urandom(16), os.urandom(16)
SDP = b"v=0\r\na=fingerprint:sha-256 AB:CD:EF\r\n"


def _pair() -> tuple[boxed.Join, boxed.Join, boxed.SignalContext, boxed.SignalContext]:
    a, b = boxed.Join.create(CALLER, CALL, DEV_A), boxed.Join.create(CALLEE, CALL, DEV_B)
    a_to_b = boxed.SignalContext(CALL, DEV_A, DEV_B, a.join_id, b.join_id)
    b_to_a = boxed.SignalContext(CALL, DEV_B, DEV_A, b.join_id, a.join_id)
    return a, b, a_to_b, b_to_a


def test_signal_round_trip_in_both_directions_with_increasing_seq() -> None:
    a, b, a_to_b, b_to_a = _pair()
    # Each side checks the other's join statement under the identity key it pinned.
    seen_a = boxed.verify_join(CALLER.public, CALL, DEV_A, a.statement.to_bytes())
    seen_b = boxed.verify_join(CALLEE.public, CALL, DEV_B, b.statement.to_bytes())
    last = 0
    for seq in (1, 2, 5):
        sealed = boxed.seal(a, seen_b, a_to_b, seq, SDP + b"%d" % seq)
        opened = boxed.open(b, seen_a, a_to_b, sealed, last)
        assert opened.payload == SDP + b"%d" % seq
        last = opened.seq
    answer = boxed.seal(b, seen_a, b_to_a, 1, b"answer")
    assert boxed.open(a, seen_b, b_to_a, answer).payload == b"answer"


def test_signal_cannot_be_replayed_swapped_reflected_or_reused_after_a_rejoin() -> None:
    a, b, a_to_b, b_to_a = _pair()
    sealed = boxed.seal(a, b.statement, a_to_b, 3, SDP)
    with pytest.raises(ReplayedSignal):
        boxed.open(b, a.statement, a_to_b, sealed, last_seq=3)
    with pytest.raises(WrongContext):  # same joins, another session id in the context
        other = boxed.SignalContext(os.urandom(16), DEV_A, DEV_B, a.join_id, b.join_id)
        boxed.open(b, a.statement, other, sealed)
    with pytest.raises(WrongContext):  # reflected back to the caller as if from the callee
        boxed.open(a, b.statement, b_to_a, sealed)
    # A relay's own join for the callee's device does not verify under the callee's pinned key.
    forged = boxed.Join.create(MALLORY, CALL, DEV_B)
    with pytest.raises(BadSignature):
        boxed.verify_join(CALLEE.public, CALL, DEV_B, forged.statement.to_bytes())
    with pytest.raises(DecryptionFailed):  # an SDP sealed by the relay's join
        boxed.open(b, a.statement, a_to_b, boxed.seal(forged, b.statement, a_to_b, 4, b"evil"))
    # The callee reloads (a new join): a recorded signal no longer opens, whatever its seq.
    b2 = boxed.Join.create(CALLEE, CALL, DEV_B)
    with pytest.raises(DecryptionFailed):
        boxed.open(b2, a.statement, boxed.SignalContext(CALL, DEV_A, DEV_B, a.join_id, b2.join_id), sealed)
    tampered = sealed[:-3] + bytes([sealed[-3] ^ 0x20]) + sealed[-2:]
    with pytest.raises(DecryptionFailed):
        boxed.open(b, a.statement, a_to_b, tampered)
    with pytest.raises(UnsupportedVersion):
        boxed.open(b, a.statement, a_to_b, b"\x01" + sealed[1:])
    with pytest.raises(TooLarge):
        boxed.seal(a, b.statement, a_to_b, 9, bytes(MAX_SIGNAL_PLAINTEXT_BYTES + 1))


# --- keywrap -----------------------------------------------------------------------------------------

LOW = {"opslimit": 1, "memlimit": 8192}


def test_keystore_wrap_round_trip_and_fresh_randomness() -> None:
    secret = os.urandom(200)
    one, two = keywrap.wrap("pass phrase", secret, **LOW), keywrap.wrap("pass phrase", secret, **LOW)
    assert one != two  # fresh salt and nonce each time
    assert keywrap.unwrap("pass phrase", one) == keywrap.unwrap(b"pass phrase", two) == secret
    assert secret not in one


def test_keystore_refuses_wrong_passphrase_and_any_modification() -> None:
    wrapped = keywrap.wrap("pass phrase", b"keys", **LOW)
    with pytest.raises(DecryptionFailed):
        keywrap.unwrap("pass phrasE", wrapped)
    for index in (20, 40, len(wrapped) - 1):  # salt, nonce, tag
        with pytest.raises(DecryptionFailed):
            keywrap.unwrap(
                "pass phrase", wrapped[:index] + bytes([wrapped[index] ^ 1]) + wrapped[index + 1 :]
            )
    with pytest.raises(MalformedState):
        keywrap.unwrap("pass phrase", b"XXXX" + wrapped[4:])
    with pytest.raises(UnsupportedVersion):
        keywrap.unwrap("pass phrase", wrapped[:4] + b"\x02" + wrapped[5:])
    hostile = wrapped[:10] + (8 * 1024**3 // 4).to_bytes(4, "big") + wrapped[14:]  # 2 GiB memlimit
    with pytest.raises(TooLarge):
        keywrap.unwrap("pass phrase", hostile)


def test_keywrap_default_costs_are_the_documented_ones() -> None:
    assert (keywrap.DEFAULT_OPSLIMIT, keywrap.DEFAULT_MEMLIMIT) == (3, 64 * 1024 * 1024)


# --- fingerprint -------------------------------------------------------------------------------------


def test_safety_number_is_symmetric_and_changes_with_any_key() -> None:
    a, b, c = (IdentityKeyPair.generate().public for _ in range(3))
    ia, ib = os.urandom(16), os.urandom(16)
    number = fingerprint.safety_number(a, ia, b, ib)
    assert len(number) == 60 and number.isdigit()
    assert fingerprint.safety_number(b, ib, a, ia) == number
    assert fingerprint.safety_number(a, ia, c, ib) != number  # a key change shows
    assert fingerprint.safety_number(a, ia, b, os.urandom(16)) != number
    assert len(fingerprint.format_safety_number(number).split()) == 12
    qr = fingerprint.qr_payload(a, ia, b, ib)
    assert fingerprint.verify_qr_payload(qr, b, ib, a, ia)
    assert not fingerprint.verify_qr_payload(qr, c, ib, a, ia)
    with pytest.raises(UnsupportedVersion):
        fingerprint.verify_qr_payload(b"\x09" + qr[1:], a, ia, b, ib)


# --- attachments -------------------------------------------------------------------------------------


def _encrypt(data: bytes) -> tuple[bytes, attachments.AttachmentPointer]:
    sink = io.BytesIO()
    pointer = attachments.encrypt_file(io.BytesIO(data), sink)
    return sink.getvalue(), pointer


def _decrypt(blob: bytes, pointer: attachments.AttachmentPointer) -> bytes:
    out = io.BytesIO()
    attachments.decrypt_file(io.BytesIO(blob), out, pointer)
    return out.getvalue()


@pytest.mark.parametrize(
    "size", [0, 1, ATTACHMENT_CHUNK_BYTES - 1, ATTACHMENT_CHUNK_BYTES, 3 * ATTACHMENT_CHUNK_BYTES + 7]
)
def test_attachment_round_trip(size: int) -> None:
    data = os.urandom(size)
    blob, pointer = _encrypt(data)
    assert len(blob) == attachments.encrypted_size(size)
    assert pointer.size == size
    assert _decrypt(blob, pointer) == data
    assert attachments.AttachmentPointer.from_bytes(pointer.to_bytes()) == pointer
    assert pointer.key.hex() not in repr(pointer)


def test_attachment_streams_in_bounded_memory_from_any_block_sizes() -> None:
    total = 5 * ATTACHMENT_CHUNK_BYTES + 123

    def source() -> Iterator[bytes]:
        sent = 0
        while sent < total:
            n = min(7919, total - sent)
            yield bytes([sent % 256]) * n
            sent += n

    enc = attachments.AttachmentEncryptor()
    pieces = list(enc.encrypt(source()))
    assert max(len(x) for x in pieces) <= ATTACHMENT_CHUNK_BYTES + 17
    odd_blocks = [b"".join(pieces)[i : i + 1000] for i in range(0, sum(map(len, pieces)), 1000)]
    out = b"".join(attachments.decrypt_stream(odd_blocks, enc.pointer))
    assert out == b"".join(source())


def test_attachment_truncation_reordering_tampering_are_detected() -> None:
    step = ATTACHMENT_CHUNK_BYTES + 17
    blob, pointer = _encrypt(os.urandom(3 * ATTACHMENT_CHUNK_BYTES + 10))
    chunks = [blob[24 + i * step : 24 + (i + 1) * step] for i in range(4)]
    with pytest.raises(StreamTruncated):
        _decrypt(blob[: 24 + 3 * step], pointer)  # final chunk dropped
    with pytest.raises(StreamTruncated):
        _decrypt(blob[:10], pointer)
    with pytest.raises(DecryptionFailed):
        _decrypt(blob[:24] + chunks[1] + chunks[0] + chunks[2] + chunks[3], pointer)
    with pytest.raises(DecryptionFailed):
        _decrypt(blob[:-5] + bytes([blob[-5] ^ 1]) + blob[-4:], pointer)
    with pytest.raises(StreamTruncated):
        _decrypt(blob + b"\x00", pointer)
    with pytest.raises(DecryptionFailed):
        _decrypt(blob, attachments.AttachmentPointer(os.urandom(32), pointer.digest, pointer.size))
    with pytest.raises(DecryptionFailed):
        _decrypt(blob, attachments.AttachmentPointer(pointer.key, os.urandom(32), pointer.size))
    # A blob whose final chunk was cut at a chunk boundary *and* whose pointer was shortened to match
    # still fails: the last remaining chunk is not tagged final.
    short = attachments.AttachmentPointer(pointer.key, pointer.digest, 3 * ATTACHMENT_CHUNK_BYTES)
    with pytest.raises(StreamTruncated):
        _decrypt(blob[: 24 + 3 * step], short)
