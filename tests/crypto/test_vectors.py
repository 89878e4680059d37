"""Known-answer vectors shared with the browser implementation (tests/vectors/*.json).

Each vector is recomputed from its recorded inputs with the public API and compared byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import crypto.errors
from crypto import primitives as p
from crypto import x3dh
from crypto.envelope import decode_initial_message, encode_initial_message, parse, peek
from crypto.keys import (
    IdentityKeyPair,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKeyPair,
    X25519KeyPair,
    signed_prekey_message,
)
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
    with pytest.raises(getattr(crypto.errors, case["error"])) as info:
        parse(_h(case["envelope"]))
    assert type(info.value).__name__ == case["error"]
