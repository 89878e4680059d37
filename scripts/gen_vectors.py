"""Generate the known-answer vectors in tests/vectors/ (shared with the browser implementation).

Deterministic: every key, nonce and salt comes from `_seed(label)`, so rerunning yields identical files.
Usage: python scripts/gen_vectors.py [--check]   (--check: fail if any file would change)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the version-2 generators beside this file

import _vectors_v2 as v2

from crypto import attachments, boxed, keywrap, x3dh
from crypto import primitives as p
from crypto.envelope import encode_initial_message, parse
from crypto.errors import CryptoError
from crypto.keys import (
    IdentityKeyPair,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKeyPair,
    X25519KeyPair,
    signed_prekey_message,
)
from crypto.limits import ATTACHMENT_CHUNK_BYTES
from crypto.session import Session

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors"
Json = dict[str, Any]


def _seed(label: str, size: int = 32) -> bytes:
    return hashlib.sha512(b"confidant-vectors/" + label.encode()).digest()[:size]


def _x(label: str) -> X25519KeyPair:
    return X25519KeyPair(_seed(label))


def _id(label: str) -> IdentityKeyPair:
    return IdentityKeyPair(_seed(label))


def _dev(label: str) -> bytes:
    return _seed("device/" + label, 16)


def _x25519_json(kp: X25519KeyPair) -> Json:
    return {"secret": kp.secret_bytes().hex(), "public": kp.public.to_bytes().hex()}


def _identity_json(ik: IdentityKeyPair) -> Json:
    return {
        "seed": ik.to_bytes().hex(),
        "public": ik.public.to_bytes().hex(),
        "x25519_secret": ik.x25519().secret_bytes().hex(),
        "x25519_public": ik.x25519().public.to_bytes().hex(),
    }


# --- X3DH ---------------------------------------------------------------------------------------------


def _x3dh_case(name: str, with_otpk: bool) -> Json:
    alice, bob = _id(f"{name}/alice/identity"), _id(f"{name}/bob/identity")
    spk = SignedPreKeyPair.generate(bob, 7, _x(f"{name}/bob/spk"))
    otpk = OneTimePreKeyPair(42, _x(f"{name}/bob/otpk")) if with_otpk else None
    ek = _x(f"{name}/alice/ephemeral")
    bundle = PreKeyBundle(bob.public, spk.public_part(), otpk.public_part() if otpk else None)
    message, secret = x3dh.initiate(alice, bundle, ek)
    assert x3dh.respond(bob, spk, otpk, message) == secret
    dhs = [
        alice.x25519().dh(spk.key_pair.public),
        ek.dh(bob.public.to_x25519()),
        ek.dh(spk.key_pair.public),
    ] + ([ek.dh(otpk.key_pair.public)] if otpk else [])
    return {
        "name": name,
        "alice_identity": _identity_json(alice),
        "bob_identity": _identity_json(bob),
        "bob_signed_prekey": {
            "id": spk.key_id,
            **_x25519_json(spk.key_pair),
            "signed_message": signed_prekey_message(spk.key_id, spk.key_pair.public.to_bytes()).hex(),
            "signature": spk.signature.hex(),
        },
        "bob_one_time_prekey": {"id": otpk.key_id, **_x25519_json(otpk.key_pair)} if otpk else None,
        "alice_ephemeral": _x25519_json(ek),
        "bundle": bundle.to_bytes().hex(),
        "initial_message": encode_initial_message(message).hex(),
        "dh": [d.hex() for d in dhs],
        "kdf_input": (x3dh.X3DH_F + b"".join(dhs)).hex(),
        "shared_secret": secret.key.hex(),
        "associated_data": secret.associated_data.hex(),
    }


def gen_x3dh() -> Json:
    return {
        "description": "X3DH from fixed keys: DH1..DH4, KDF input (F || DHs), SK and AD.",
        "info": x3dh.X3DH_INFO.decode(),
        "cases": [_x3dh_case("x3dh-otpk", True), _x3dh_case("x3dh-no-otpk", False)],
    }


# --- Session transcript -------------------------------------------------------------------------------


class _Transcript:
    def __init__(self) -> None:
        name = "transcript"
        self.identity = {"alice": _id(f"{name}/alice/identity"), "bob": _id(f"{name}/bob/identity")}
        self.device = {"alice": _dev("alice"), "bob": _dev("bob")}
        self.spk = SignedPreKeyPair.generate(self.identity["bob"], 1, _x(f"{name}/bob/spk"))
        self.otpk = OneTimePreKeyPair(5, _x(f"{name}/bob/otpk"))
        self.ephemeral = _x(f"{name}/alice/ephemeral")
        self.alice_ratchet = _x(f"{name}/alice/ratchet/0")
        bundle = PreKeyBundle(self.identity["bob"].public, self.spk.public_part(), self.otpk.public_part())
        self.bundle = bundle
        self.sessions: dict[str, Session] = {
            "alice": Session.initiate(
                self.identity["alice"],
                self.device["alice"],
                self.device["bob"],
                bundle,
                ephemeral=self.ephemeral,
                ratchet_key=self.alice_ratchet,
            )
        }
        self.sent: dict[str, bytes] = {}
        self.plain: dict[str, bytes] = {}
        self.steps: list[Json] = []
        self.key_counter = 0

    def send(self, who: str, label: str, plaintext: bytes) -> None:
        wire = self.sessions[who].encrypt(plaintext)
        env = parse(wire)
        self.sent[label], self.plain[label] = wire, plaintext
        self.steps.append(
            {
                "op": "encrypt",
                "party": who,
                "label": label,
                "plaintext": plaintext.hex(),
                "type": env.type.wire_name,
                "header": env.header.to_bytes().hex(),
                "ciphertext": env.ciphertext.hex(),
                "envelope": wire.hex(),
                "state_sha256": p.sha256(self.sessions[who].to_bytes()).hex(),
            }
        )

    def receive(self, who: str, label: str, expect_error: str | None = None) -> None:
        self.key_counter += 1
        rk = _x(f"transcript/{who}/ratchet/{self.key_counter}")
        step: Json = {"op": "decrypt", "party": who, "label": label, "ratchet_key": _x25519_json(rk)}
        try:
            if who not in self.sessions:
                lookup = {self.spk.key_id: self.spk}.get
                otpks = {self.otpk.key_id: self.otpk}.get
                self.sessions[who], plaintext, used = Session.accept(
                    self.identity[who], self.device[who], lookup, otpks, self.sent[label], ratchet_key=rk
                )
                step["used_one_time_prekey_id"] = used
            else:
                before = self.sessions[who].to_bytes()
                try:
                    plaintext = self.sessions[who].decrypt(self.sent[label], ratchet_key=rk)
                except CryptoError:
                    assert self.sessions[who].to_bytes() == before
                    raise
            assert expect_error is None and plaintext == self.plain[label]
            step["plaintext"] = plaintext.hex()
        except CryptoError as exc:
            assert type(exc).__name__ == expect_error, (label, exc)
            step["error"] = expect_error
        step["state_sha256"] = p.sha256(self.sessions[who].to_bytes()).hex()
        self.steps.append(step)


def gen_ratchet() -> Json:
    t = _Transcript()
    counter = iter(range(1000))

    def text(n: int) -> bytes:
        k = next(counter)
        return bytes((i * 7 + k * 13) % 256 for i in range(n))

    sizes = iter([0, 1, 159, 160, 161, 1000, 5, 31, 320, 64, 12, 2, 3, 500, 100, 7, 8, 9, 10, 11, 1024, 13])
    for lbl in ("a0", "a1", "a2"):
        t.send("alice", lbl, text(next(sizes)))
    t.receive("bob", "a1")  # accept from the second prekey message: a0 becomes a skipped key
    t.receive("bob", "a0")
    t.receive("bob", "a2")
    t.receive("bob", "a2", expect_error="DuplicateMessage")
    for lbl in ("b0", "b1", "b2"):
        t.send("bob", lbl, text(next(sizes)))
    t.receive("alice", "b2")  # DH ratchet step at Alice; b0, b1 skipped
    t.receive("alice", "b0")
    t.receive("alice", "b1")
    for lbl in ("a3", "a4", "a5"):
        t.send("alice", lbl, text(next(sizes)))
    t.receive("bob", "a3")  # DH ratchet step at Bob
    t.receive("bob", "a5")
    for lbl in ("b3", "b4"):
        t.send("bob", lbl, text(next(sizes)))
    t.receive("alice", "b3")
    t.receive("alice", "b4")
    t.send("alice", "a6", text(next(sizes)))
    t.receive("bob", "a6")  # new chain; a4 stays skipped from the previous chain
    t.receive("bob", "a4")
    t.receive("bob", "a0", expect_error="DuplicateMessage")
    for lbl in ("b5", "b6", "b7"):
        t.send("bob", lbl, text(next(sizes)))
    t.receive("alice", "b7")
    t.receive("alice", "b5")
    for lbl in ("a7", "a8"):
        t.send("alice", lbl, text(next(sizes)))
    t.receive("bob", "a8")  # a7 is lost: never delivered
    t.receive("alice", "b6")
    t.send("bob", "b8", text(next(sizes)))
    t.receive("alice", "b8")
    t.send("alice", "a9", text(next(sizes)))
    t.receive("bob", "a9")
    for lbl in ("b9", "b10"):
        t.send("bob", lbl, text(next(sizes)))
    t.receive("alice", "b10")
    t.receive("alice", "b9")
    t.send("alice", "a10", text(next(sizes)))
    t.receive("bob", "a10")
    return {
        "description": "Session transcript: Alice initiates from Bob's bundle; "
        "every encrypt and decrypt in order.",
        "alice": {"identity": _identity_json(t.identity["alice"]), "device_id": t.device["alice"].hex()},
        "bob": {
            "identity": _identity_json(t.identity["bob"]),
            "device_id": t.device["bob"].hex(),
            "signed_prekey": {
                "id": t.spk.key_id,
                **_x25519_json(t.spk.key_pair),
                "signature": t.spk.signature.hex(),
            },
            "one_time_prekey": {"id": t.otpk.key_id, **_x25519_json(t.otpk.key_pair)},
        },
        "bundle": t.bundle.to_bytes().hex(),
        "alice_ephemeral": _x25519_json(t.ephemeral),
        "alice_initial_ratchet_key": _x25519_json(t.alice_ratchet),
        "steps": t.steps,
        "final_state": {k: v.to_bytes().hex() for k, v in sorted(t.sessions.items())},
    }


# --- Envelopes ----------------------------------------------------------------------------------------


def _envelope_json(wire: bytes) -> Json:
    env = parse(wire)
    im = env.initial_message
    return {
        "envelope": wire.hex(),
        "version": env.version,
        "type": env.type.wire_name,
        "sender_device": env.sender_device.hex(),
        "recipient_device": env.recipient_device.hex(),
        "initial_message": None
        if im is None
        else {
            "identity_key": im.identity_key.to_bytes().hex(),
            "ephemeral_key": im.ephemeral_key.to_bytes().hex(),
            "signed_prekey_id": im.signed_prekey_id,
            "one_time_prekey_id": im.one_time_prekey_id,
        },
        "header": {"dh": env.header.dh.to_bytes().hex(), "pn": env.header.pn, "n": env.header.n},
        "ciphertext": env.ciphertext.hex(),
    }


def _invalid_json(name: str, raw: bytes, error: str) -> Json:
    """Long zero tails are given as a count (`append_zeros`) to keep the file small."""
    body = raw.rstrip(b"\x00") if len(raw) > 4096 else raw
    out: Json = {"name": name, "envelope": body.hex(), "error": error}
    if len(body) != len(raw):
        out["append_zeros"] = len(raw) - len(body)
    return out


def gen_envelope() -> Json:
    alice, bob = _id("envelope/alice"), _id("envelope/bob")
    spk = SignedPreKeyPair.generate(bob, 3, _x("envelope/spk"))
    valid = []
    for with_otpk in (True, False):
        otpk = OneTimePreKeyPair(9, _x("envelope/otpk")).public_part() if with_otpk else None
        bundle = PreKeyBundle(bob.public, spk.public_part(), otpk)
        s = Session.initiate(
            alice,
            _dev("e-alice"),
            _dev("e-bob"),
            bundle,
            ephemeral=_x("envelope/ek"),
            ratchet_key=_x("envelope/rk"),
        )
        valid.append(_envelope_json(s.encrypt(b"envelope vector")))
    bob_s, _, _ = Session.accept(
        bob,
        _dev("e-bob"),
        {3: spk}.get,
        lambda _i: None,
        bytes.fromhex(valid[1]["envelope"]),
        ratchet_key=_x("envelope/bob-rk"),
    )
    valid.append(_envelope_json(bob_s.encrypt(b"a normal message")))
    prekey, normal = bytes.fromhex(valid[0]["envelope"]), bytes.fromhex(valid[2]["envelope"])
    bad_otpk_flag = bytearray(bytes.fromhex(valid[1]["envelope"]))
    bad_otpk_flag[103:107] = b"\x00\x00\x00\x01"
    invalid = [
        ("empty", b"", "MalformedEnvelope"),
        ("version 0", b"\x00" + normal[1:], "UnsupportedVersion"),
        ("version 2", b"\x02" + normal[1:], "UnsupportedVersion"),
        ("unknown type 3", normal[:1] + b"\x03" + normal[2:], "MalformedEnvelope"),
        ("truncated inside the addressing", normal[:20], "MalformedEnvelope"),
        ("truncated inside the header", normal[:60], "MalformedEnvelope"),
        ("ciphertext not a padded length", normal[:-1], "MalformedEnvelope"),
        ("ciphertext shorter than one block", normal[: 34 + 40 + 16], "MalformedEnvelope"),
        ("prekey type on a normal body", normal[:1] + b"\x01" + normal[2:], "MalformedEnvelope"),
        ("normal type on a prekey body", prekey[:1] + b"\x02" + prekey[2:], "MalformedEnvelope"),
        ("absent one-time prekey with a non-zero id", bytes(bad_otpk_flag), "MalformedEnvelope"),
        ("one-time prekey flag 2", prekey[:102] + b"\x02" + prekey[103:], "MalformedEnvelope"),
        ("identity key not a curve point", prekey[:34] + bytes(32) + prekey[66:], "MalformedEnvelope"),
        ("over MAX_ENVELOPE_BYTES", normal + bytes(65536 - len(normal) + 1), "TooLarge"),
    ]
    return {
        "description": "Envelope v1 encodings: valid envelopes with their parsed fields, "
        "and invalid ones with the typed error parse() must raise.",
        "valid": valid,
        "invalid": [_invalid_json(n, raw, e) for n, raw, e in invalid],
    }


# --- Boxed signaling ----------------------------------------------------------------------------------


def gen_boxed() -> Json:
    caller, callee = _id("boxed/caller"), _id("boxed/callee")
    session = _seed("boxed/call", 16)
    dev_a, dev_b = _dev("caller"), _dev("callee")
    join_a = boxed.Join.create(
        caller, session, dev_a, ephemeral=_x("boxed/join/caller"), join_id=_seed("boxed/join-id/caller", 16)
    )
    join_b = boxed.Join.create(
        callee, session, dev_b, ephemeral=_x("boxed/join/callee"), join_id=_seed("boxed/join-id/callee", 16)
    )
    # The callee rejoined (a reload): same device and identity, a new join.
    rejoin_b = boxed.Join.create(
        callee,
        session,
        dev_b,
        ephemeral=_x("boxed/rejoin/callee"),
        join_id=_seed("boxed/rejoin-id/callee", 16),
    )
    ctx = boxed.SignalContext(session, dev_a, dev_b, join_a.join_id, join_b.join_id)
    cases = []
    for seq, payload in (
        (1, b'{"type":"offer","sdp":"v=0..."}'),
        (2, b""),
        (3, b"a=candidate:1 1 udp 1 ::1"),
    ):
        nonce = _seed(f"boxed/nonce/{seq}", 24)
        sealed = boxed.seal(join_a, join_b.statement, ctx, seq, payload, nonce=nonce)
        assert boxed.open(join_b, join_a.statement, ctx, sealed, seq - 1).payload == payload
        cases.append(
            {
                "seq": seq,
                "payload": payload.hex(),
                "nonce": nonce.hex(),
                "box_plaintext": (ctx.encode(seq) + payload).hex(),
                "boxed": sealed.hex(),
            }
        )
    first = bytes.fromhex(cases[0]["boxed"])

    def join_json(identity: IdentityKeyPair, device: bytes, join: boxed.Join) -> Json:
        return {
            "device_id": device.hex(),
            "ephemeral": _x25519_json(join.keys),
            "join_id": join.join_id.hex(),
            "signed_message": boxed.join_message(
                session, device, join.join_id, join.keys.public.to_bytes()
            ).hex(),
            "statement": join.statement.to_bytes().hex(),
        }

    def ctx_json(c: boxed.SignalContext) -> Json:
        return {
            "session_id": c.session_id.hex(),
            "from_device": c.from_device.hex(),
            "to_device": c.to_device.hex(),
            "from_join": c.from_join.hex(),
            "to_join": c.to_join.hex(),
        }

    other_session = boxed.SignalContext(
        _seed("boxed/other-call", 16), dev_a, dev_b, ctx.from_join, ctx.to_join
    )
    reflected = boxed.SignalContext(session, dev_b, dev_a, join_b.join_id, join_a.join_id)
    after_rejoin = boxed.SignalContext(session, dev_a, dev_b, join_a.join_id, rejoin_b.join_id)
    forged = bytearray(join_b.statement.to_bytes())
    forged[20] ^= 1  # another ephemeral key under the callee's signature: a swapped join
    return {
        "description": "Boxed signaling v2: join statements signed by identity keys, crypto_box between "
        "the two joins' ephemeral X25519 keys over version || session || from || to || from_join || "
        "to_join || seq || payload.",
        "session_id": session.hex(),
        "sender": _identity_json(caller),
        "recipient": _identity_json(callee),
        "sender_join": join_json(caller, dev_a, join_a),
        "recipient_join": join_json(callee, dev_b, join_b),
        "recipient_rejoin": join_json(callee, dev_b, rejoin_b),
        "context": ctx_json(ctx),
        "cases": cases,
        "join_rejections": [
            {
                "name": "ephemeral key swapped",
                "statement": bytes(forged).hex(),
                "device_id": dev_b.hex(),
                "error": "BadSignature",
            },
            {
                "name": "statement of another device",
                "statement": join_b.statement.to_bytes().hex(),
                "device_id": dev_a.hex(),
                "error": "BadSignature",
            },
        ],
        "rejections": [
            {
                "name": "replayed (last_seq = 1)",
                "boxed": first.hex(),
                "last_seq": 1,
                "error": "ReplayedSignal",
            },
            {
                "name": "opened for another session",
                "boxed": first.hex(),
                "last_seq": 0,
                "error": "WrongContext",
                "context": ctx_json(other_session),
            },
            {
                "name": "reflected to its sender",
                "boxed": first.hex(),
                "last_seq": 0,
                "error": "WrongContext",
                "swap_parties": True,
                "context": ctx_json(reflected),
            },
            {
                "name": "replayed after the recipient rejoined",
                "boxed": first.hex(),
                "last_seq": 0,
                "error": "DecryptionFailed",
                "recipient_rejoined": True,
                "context": ctx_json(after_rejoin),
            },
            {
                "name": "tampered box",
                "boxed": (first[:-1] + bytes([first[-1] ^ 1])).hex(),
                "last_seq": 0,
                "error": "DecryptionFailed",
            },
            {
                "name": "version 1",
                "boxed": (b"\x01" + first[1:]).hex(),
                "last_seq": 0,
                "error": "UnsupportedVersion",
            },
        ],
    }


# --- Keywrap ------------------------------------------------------------------------------------------


def gen_keywrap() -> Json:
    cases = []
    for name, passphrase, ops, mem in (
        ("ascii", "correct horse battery staple", 1, 8192),
        ("utf8", "pässwörd - 🔑", 2, 65536),
    ):
        salt, nonce = _seed(f"keywrap/{name}/salt", 16), _seed(f"keywrap/{name}/nonce", 24)
        keystore = _seed(f"keywrap/{name}/keystore", 64) + b"keystore"
        wrapped = keywrap.wrap(passphrase, keystore, opslimit=ops, memlimit=mem, salt=salt, nonce=nonce)
        cases.append(
            {
                "name": name,
                "passphrase": passphrase,
                "passphrase_utf8": passphrase.encode().hex(),
                "opslimit": ops,
                "memlimit": mem,
                "salt": salt.hex(),
                "nonce": nonce.hex(),
                "key": p.argon2id(passphrase.encode(), salt, ops, mem).hex(),
                "keystore": keystore.hex(),
                "wrapped": wrapped.hex(),
            }
        )
    return {
        "description": "Keystore wrapping with low Argon2id costs (recorded per case; the defaults are "
        "opslimit 3, memlimit 67108864). key = crypto_pwhash(32, passphrase_utf8, salt, opslimit, memlimit, "
        "ALG_ARGON2ID13).",
        "cases": cases,
        "wrong_passphrase": {"case": "ascii", "passphrase": "wrong horse", "error": "DecryptionFailed"},
    }


# --- Fingerprint --------------------------------------------------------------------------------------


# --- Attachments --------------------------------------------------------------------------------------


def _pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def gen_attachment() -> Json:
    cases = []
    for name, size in (
        ("empty", 0),
        ("small", 1000),
        ("exact-chunk", ATTACHMENT_CHUNK_BYTES),
        ("multi-chunk", 2 * ATTACHMENT_CHUNK_BYTES + 1000),
    ):
        key, header = _seed(f"attachment/{name}/key"), _seed(f"attachment/{name}/header", 24)
        sink = io.BytesIO()
        pointer = attachments.encrypt_file(io.BytesIO(_pattern(size)), sink, key=key, header=header)
        blob = sink.getvalue()
        chunks = [
            blob[24 + i : 24 + i + ATTACHMENT_CHUNK_BYTES + 17]
            for i in range(0, len(blob) - 24, ATTACHMENT_CHUNK_BYTES + 17)
        ]
        case: Json = {
            "name": name,
            "size": size,
            "key": key.hex(),
            "header": header.hex(),
            "blob_length": len(blob),
            "pointer": pointer.to_bytes().hex(),
            "digest": pointer.digest.hex(),
            "chunk_blake2b": [p.blake2b(c).hex() for c in chunks],
        }
        if len(chunks[-1]) <= 2048:
            case["final_chunk"] = chunks[-1].hex()
        if len(blob) <= 2048:
            case["blob"] = blob.hex()
        cases.append(case)
    return {
        "description": "Attachments: plaintext byte i = i mod 251; secretstream with ATTACHMENT_CHUNK_BYTES "
        "chunks; blobs above 2 KiB are given by length, per-chunk BLAKE2b-256, final chunk and digest.",
        "chunk_bytes": ATTACHMENT_CHUNK_BYTES,
        "cases": cases,
        "rejections": [
            {
                "case": "multi-chunk",
                "name": "truncated after the first chunk",
                "operation": {"truncate_to": 24 + ATTACHMENT_CHUNK_BYTES + 17},
                "error": "StreamTruncated",
            },
            {
                "case": "multi-chunk",
                "name": "truncated inside the final chunk",
                "operation": {"truncate_to": 24 + 2 * (ATTACHMENT_CHUNK_BYTES + 17) + 500},
                "error": "StreamTruncated",
            },
            {
                "case": "multi-chunk",
                "name": "first two chunks swapped",
                "operation": {"swap_chunks": [0, 1]},
                "error": "DecryptionFailed",
            },
            {
                "case": "multi-chunk",
                "name": "byte flipped in the second chunk",
                "operation": {"flip_byte": 24 + ATTACHMENT_CHUNK_BYTES + 17 + 100},
                "error": "DecryptionFailed",
            },
            {
                "case": "small",
                "name": "extra bytes after the final chunk",
                "operation": {"append": "00"},
                "error": "StreamTruncated",
            },
        ],
    }


GENERATORS: dict[str, Callable[[], Json]] = {
    "x3dh.json": gen_x3dh,
    "ratchet.json": gen_ratchet,
    "envelope.json": gen_envelope,
    "boxed.json": gen_boxed,
    "keywrap.json": gen_keywrap,
    "fingerprint.json": v2.gen_fingerprint,
    "signed.json": v2.gen_signed,
    "linking.json": v2.gen_linking,
    "replay.json": v2.gen_replay,
    "attachment.json": gen_attachment,
}


def _dump(data: Json) -> str:
    out = io.StringIO()
    json.dump(data, out, indent=1, sort_keys=False)
    return out.getvalue() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if any vector file would change")
    args = parser.parse_args()
    VECTORS.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, gen in GENERATORS.items():
        text, path = _dump(gen()), VECTORS / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("stale vectors:", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
