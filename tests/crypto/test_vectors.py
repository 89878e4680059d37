"""Known-answer vectors shared with the browser implementation (tests/vectors/*.json).

Each vector is recomputed from its recorded inputs with the public API and compared byte for byte.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import pytest

import crypto.errors
from crypto import attachments, boxed, fingerprint, keywrap, x3dh
from crypto import primitives as p
from crypto.envelope import decode_initial_message, encode_initial_message, parse, peek
from crypto.keys import (
    IdentityKeyPair,
    IdentityPublicKey,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKeyPair,
    X25519KeyPair,
    signed_prekey_message,
)
from crypto.limits import ATTACHMENT_CHUNK_BYTES
from crypto.session import Session

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


def _identity(j: dict[str, Any]) -> IdentityKeyPair:
    ik = IdentityKeyPair(_h(j["seed"]))
    assert ik.public.to_bytes().hex() == j["public"]
    assert ik.x25519().secret_bytes().hex() == j["x25519_secret"]
    assert ik.x25519().public.to_bytes().hex() == j["x25519_public"]
    return ik


def _x25519(j: dict[str, Any]) -> X25519KeyPair:
    kp = X25519KeyPair(_h(j["secret"]))
    assert kp.public.to_bytes().hex() == j["public"]
    return kp


def test_vector_files_are_exactly_what_the_generator_writes() -> None:
    """The files are up to date and the generator is deterministic (it runs twice here)."""
    spec = importlib.util.spec_from_file_location(
        "gen_vectors", VECTORS.parent.parent / "scripts" / "gen_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for name, generate in gen.GENERATORS.items():
        first = gen._dump(generate())
        assert first == gen._dump(generate()), name
        assert first == (VECTORS / name).read_text(), f"{name} is stale: run scripts/gen_vectors.py"


X3DH = _load("x3dh.json")


@pytest.mark.parametrize("case", X3DH["cases"], ids=[c["name"] for c in X3DH["cases"]])
def test_x3dh_vector(case: dict[str, Any]) -> None:
    alice, bob = _identity(case["alice_identity"]), _identity(case["bob_identity"])
    s = case["bob_signed_prekey"]
    spk = SignedPreKeyPair(s["id"], _x25519(s), _h(s["signature"]))
    assert signed_prekey_message(spk.key_id, spk.key_pair.public.to_bytes()).hex() == s["signed_message"]
    # Ed25519 is deterministic: re-signing must reproduce the recorded signature.
    assert bob.sign(_h(s["signed_message"])).hex() == s["signature"]
    o = case["bob_one_time_prekey"]
    otpk = OneTimePreKeyPair(o["id"], _x25519(o)) if o else None
    bundle = PreKeyBundle(bob.public, spk.public_part(), otpk.public_part() if otpk else None)
    assert bundle.to_bytes().hex() == case["bundle"]
    assert PreKeyBundle.from_bytes(_h(case["bundle"])) == bundle
    message, secret = x3dh.initiate(alice, bundle, _x25519(case["alice_ephemeral"]))
    assert encode_initial_message(message).hex() == case["initial_message"]
    assert secret.key.hex() == case["shared_secret"]
    assert secret.associated_data.hex() == case["associated_data"]
    assert p.hkdf_sha256(_h(case["kdf_input"]), bytes(32), X3DH["info"].encode(), 32) == secret.key
    assert x3dh.respond(bob, spk, otpk, decode_initial_message(_h(case["initial_message"]))) == secret


RATCHET = _load("ratchet.json")


def test_ratchet_transcript_has_what_the_browser_needs() -> None:
    steps = RATCHET["steps"]
    encrypts = [s for s in steps if s["op"] == "encrypt"]
    assert len(encrypts) >= 20
    assert any(s["op"] == "decrypt" and "error" in s for s in steps)
    # At least two DH ratchet steps on each side: distinct header keys per sender.
    for party in ("alice", "bob"):
        keys = {s["header"][:64] for s in encrypts if s["party"] == party}
        assert len(keys) >= 3


def test_ratchet_transcript_replays_exactly() -> None:
    a, b = RATCHET["alice"], RATCHET["bob"]
    ids = {"alice": _identity(a["identity"]), "bob": _identity(b["identity"])}
    devices = {"alice": _h(a["device_id"]), "bob": _h(b["device_id"])}
    spk = SignedPreKeyPair(
        b["signed_prekey"]["id"], _x25519(b["signed_prekey"]), _h(b["signed_prekey"]["signature"])
    )
    otpk = OneTimePreKeyPair(b["one_time_prekey"]["id"], _x25519(b["one_time_prekey"]))
    bundle = PreKeyBundle.from_bytes(_h(RATCHET["bundle"]))
    sessions = {
        "alice": Session.initiate(
            ids["alice"],
            devices["alice"],
            devices["bob"],
            bundle,
            ephemeral=_x25519(RATCHET["alice_ephemeral"]),
            ratchet_key=_x25519(RATCHET["alice_initial_ratchet_key"]),
        )
    }
    sent: dict[str, bytes] = {}
    for step in RATCHET["steps"]:
        who = step["party"]
        if step["op"] == "encrypt":
            wire = sessions[who].encrypt(_h(step["plaintext"]))
            assert wire.hex() == step["envelope"], step["label"]
            env = parse(wire)
            assert env.header.to_bytes().hex() == step["header"]
            assert env.ciphertext.hex() == step["ciphertext"]
            assert env.type.wire_name == step["type"]
            sent[step["label"]] = wire
        else:
            rk = _x25519(step["ratchet_key"])
            if who not in sessions:
                sessions[who], plaintext, used = Session.accept(
                    ids[who],
                    devices[who],
                    {spk.key_id: spk}.get,
                    {otpk.key_id: otpk}.get,
                    sent[step["label"]],
                    ratchet_key=rk,
                )
                assert used == step["used_one_time_prekey_id"]
                assert plaintext.hex() == step["plaintext"]
            elif "error" in step:
                with pytest.raises(getattr(crypto.errors, step["error"])):
                    sessions[who].decrypt(sent[step["label"]], ratchet_key=rk)
            else:
                assert sessions[who].decrypt(sent[step["label"]], ratchet_key=rk).hex() == step["plaintext"]
        assert p.sha256(sessions[who].to_bytes()).hex() == step["state_sha256"], step["label"]
    for who, state in RATCHET["final_state"].items():
        assert sessions[who].to_bytes().hex() == state
        assert Session.from_bytes(_h(state)).to_bytes().hex() == state


ENVELOPE = _load("envelope.json")


@pytest.mark.parametrize("case", ENVELOPE["valid"], ids=lambda c: f"{c['type']}-{c['header']['n']}")
def test_envelope_vector_parses(case: dict[str, Any]) -> None:
    raw = _h(case["envelope"])
    env = parse(raw)
    info = peek(raw)
    assert (info.version, info.type.wire_name) == (case["version"], case["type"])
    assert (info.sender_device.hex(), info.recipient_device.hex()) == (
        case["sender_device"],
        case["recipient_device"],
    )
    assert (
        env.header.to_bytes().hex()
        == case["header"]["dh"] + f"{case['header']['pn']:08x}{case['header']['n']:08x}"
    )
    assert env.ciphertext.hex() == case["ciphertext"]
    im = case["initial_message"]
    if im is None:
        assert env.initial_message is None
    else:
        assert env.initial_message is not None
        assert env.initial_message.identity_key.to_bytes().hex() == im["identity_key"]
        assert env.initial_message.one_time_prekey_id == im["one_time_prekey_id"]
    assert env.to_bytes() == raw


@pytest.mark.parametrize("case", ENVELOPE["invalid"], ids=lambda c: c["name"])
def test_envelope_vector_is_rejected(case: dict[str, Any]) -> None:
    raw = _h(case["envelope"]) + bytes(case.get("append_zeros", 0))
    for fn in (parse, peek):
        with pytest.raises(getattr(crypto.errors, case["error"])) as info:
            fn(raw)
        assert type(info.value).__name__ == case["error"]


BOXED = _load("boxed.json")
SESSION = _h(BOXED["session_id"])


def _ctx(j: dict[str, Any]) -> boxed.SignalContext:
    return boxed.SignalContext(
        _h(j["session_id"]), _h(j["from_device"]), _h(j["to_device"]), _h(j["from_join"]), _h(j["to_join"])
    )


def _join(identity: dict[str, Any], j: dict[str, Any]) -> boxed.Join:
    ik = _identity(identity)
    eph = X25519KeyPair(_h(j["ephemeral"]["secret"]))
    assert eph.public.to_bytes().hex() == j["ephemeral"]["public"]
    join = boxed.Join.create(ik, SESSION, _h(j["device_id"]), ephemeral=eph, join_id=_h(j["join_id"]))
    message = boxed.join_message(SESSION, _h(j["device_id"]), _h(j["join_id"]), eph.public.to_bytes())
    assert message.hex() == j["signed_message"]
    assert join.statement.to_bytes().hex() == j["statement"]  # Ed25519 is deterministic
    assert (
        boxed.verify_join(ik.public, SESSION, _h(j["device_id"]), join.statement.to_bytes()) == join.statement
    )
    return join


def _joins() -> tuple[boxed.Join, boxed.Join, boxed.Join]:
    return (
        _join(BOXED["sender"], BOXED["sender_join"]),
        _join(BOXED["recipient"], BOXED["recipient_join"]),
        _join(BOXED["recipient"], BOXED["recipient_rejoin"]),
    )


@pytest.mark.parametrize("case", BOXED["cases"], ids=lambda c: f"seq{c['seq']}")
def test_boxed_vector(case: dict[str, Any]) -> None:
    sender, recipient, _ = _joins()
    ctx = _ctx(BOXED["context"])
    assert ctx.encode(case["seq"]) + _h(case["payload"]) == _h(case["box_plaintext"])
    sealed = boxed.seal(
        sender, recipient.statement, ctx, case["seq"], _h(case["payload"]), nonce=_h(case["nonce"])
    )
    assert sealed.hex() == case["boxed"]
    opened = boxed.open(recipient, sender.statement, ctx, sealed, case["seq"] - 1)
    assert (opened.seq, opened.payload.hex()) == (case["seq"], case["payload"])


@pytest.mark.parametrize("case", BOXED["join_rejections"], ids=lambda c: c["name"])
def test_boxed_join_rejection(case: dict[str, Any]) -> None:
    callee = _identity(BOXED["recipient"])
    with pytest.raises(getattr(crypto.errors, case["error"])):
        boxed.verify_join(callee.public, SESSION, _h(case["device_id"]), _h(case["statement"]))


@pytest.mark.parametrize("case", BOXED["rejections"], ids=lambda c: c["name"])
def test_boxed_vector_rejection(case: dict[str, Any]) -> None:
    sender, recipient, rejoined = _joins()
    if case.get("recipient_rejoined"):
        recipient = rejoined
    if case.get("swap_parties"):
        sender, recipient = recipient, sender
    ctx = _ctx(case.get("context", BOXED["context"]))
    with pytest.raises(getattr(crypto.errors, case["error"])):
        boxed.open(recipient, sender.statement, ctx, _h(case["boxed"]), case["last_seq"])


KEYWRAP = _load("keywrap.json")


@pytest.mark.parametrize("case", KEYWRAP["cases"], ids=lambda c: c["name"])
def test_keywrap_vector(case: dict[str, Any]) -> None:
    assert case["passphrase"].encode().hex() == case["passphrase_utf8"]
    key = p.argon2id(_h(case["passphrase_utf8"]), _h(case["salt"]), case["opslimit"], case["memlimit"])
    assert key.hex() == case["key"]
    wrapped = keywrap.wrap(
        case["passphrase"],
        _h(case["keystore"]),
        opslimit=case["opslimit"],
        memlimit=case["memlimit"],
        salt=_h(case["salt"]),
        nonce=_h(case["nonce"]),
    )
    assert wrapped.hex() == case["wrapped"]
    assert keywrap.unwrap(case["passphrase"], wrapped).hex() == case["keystore"]


def test_keywrap_vector_wrong_passphrase() -> None:
    bad = KEYWRAP["wrong_passphrase"]
    case = next(c for c in KEYWRAP["cases"] if c["name"] == bad["case"])
    with pytest.raises(getattr(crypto.errors, bad["error"])):
        keywrap.unwrap(bad["passphrase"], _h(case["wrapped"]))


FINGERPRINT = _load("fingerprint.json")


def test_fingerprint_vector() -> None:
    a, b = FINGERPRINT["alice"], FINGERPRINT["bob"]
    ka, kb = IdentityPublicKey(_h(a["account_key"])), IdentityPublicKey(_h(b["account_key"]))
    ida, idb = _h(a["account_id"]), _h(b["account_id"])
    assert fingerprint.party_fingerprint(ka, ida).hex() == a["hash"]
    assert fingerprint.safety_number(ka, ida, kb, idb) == FINGERPRINT["safety_number"]
    assert fingerprint.safety_number(kb, idb, ka, ida) == FINGERPRINT["safety_number"]
    assert fingerprint.format_safety_number(FINGERPRINT["safety_number"]) == FINGERPRINT["display"]
    assert fingerprint.qr_payload(kb, idb, ka, ida).hex() == FINGERPRINT["qr_payload"]
    assert fingerprint.verify_qr_payload(_h(FINGERPRINT["qr_payload"]), ka, ida, kb, idb)


ATTACHMENT = _load("attachment.json")


def _pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def _attachment_blob(case: dict[str, Any]) -> tuple[bytes, attachments.AttachmentPointer]:
    sink = io.BytesIO()
    pointer = attachments.encrypt_file(
        io.BytesIO(_pattern(case["size"])), sink, key=_h(case["key"]), header=_h(case["header"])
    )
    return sink.getvalue(), pointer


@pytest.mark.parametrize("case", ATTACHMENT["cases"], ids=lambda c: c["name"])
def test_attachment_vector(case: dict[str, Any]) -> None:
    assert ATTACHMENT["chunk_bytes"] == ATTACHMENT_CHUNK_BYTES
    blob, pointer = _attachment_blob(case)
    assert pointer.to_bytes().hex() == case["pointer"]
    assert p.blake2b(blob).hex() == case["digest"]
    assert len(blob) == case["blob_length"] == attachments.encrypted_size(case["size"])
    step = ATTACHMENT_CHUNK_BYTES + 17
    chunks = [blob[24 + i : 24 + i + step] for i in range(0, len(blob) - 24, step)]
    assert [p.blake2b(c).hex() for c in chunks] == case["chunk_blake2b"]
    if "final_chunk" in case:
        assert chunks[-1].hex() == case["final_chunk"]
    if "blob" in case:
        assert blob.hex() == case["blob"]
    out = io.BytesIO()
    attachments.decrypt_file(
        io.BytesIO(blob), out, attachments.AttachmentPointer.from_bytes(_h(case["pointer"]))
    )
    assert out.getvalue() == _pattern(case["size"])


@pytest.mark.parametrize("case", ATTACHMENT["rejections"], ids=lambda c: c["name"])
def test_attachment_vector_rejection(case: dict[str, Any]) -> None:
    base = next(c for c in ATTACHMENT["cases"] if c["name"] == case["case"])
    blob, pointer = _attachment_blob(base)
    op, step = case["operation"], ATTACHMENT_CHUNK_BYTES + 17
    if "truncate_to" in op:
        blob = blob[: op["truncate_to"]]
    elif "swap_chunks" in op:
        i, j = op["swap_chunks"]
        c = [blob[24 + k * step : 24 + (k + 1) * step] for k in range(-(-(len(blob) - 24) // step))]
        c[i], c[j] = c[j], c[i]
        blob = blob[:24] + b"".join(c)
    elif "flip_byte" in op:
        blob = blob[: op["flip_byte"]] + bytes([blob[op["flip_byte"]] ^ 1]) + blob[op["flip_byte"] + 1 :]
    elif "append" in op:
        blob += _h(op["append"])
    with pytest.raises(getattr(crypto.errors, case["error"])):
        attachments.decrypt_file(io.BytesIO(blob), io.BytesIO(), pointer)
