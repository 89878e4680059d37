"""The device keystore: one sealed row per record, reopens intact, refuses a wrong passphrase and a second
open, never shows secrets, and migrates a version-1 file."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from client import _keywrap
from client._wire import b64e
from client.errors import KeystoreError
from client.keystore import Keystore, KeystoreLocked, RecordKind
from client.state import DeviceState, OutboxEntry, StoredMessage
from crypto import primitives

SEED = "c2VjcmV0LXNlZWQtc2VjcmV0LXNlZWQtc2VjcmV0LXM="
PEER = "9" * 32


def fill(state: DeviceState) -> None:
    state.server_url, state.account_id = "http://relay.test", "a" * 32
    state.device_id, state.role = "d" * 32, "client"
    state.identity_seed = SEED
    state.cursor = 41
    state.sessions[PEER] = ["c2Vzc2lvbg=="]
    state.outbox["e" * 32] = OutboxEntry(id="e" * 32, to_account="b" * 32, plaintext="aGk=", created_at=1)
    for i in range(3):
        state.inbox[f"m{i}"] = StoredMessage(f"m{i}", "b" * 32, PEER, i + 1, 7, b64e(f"secret {i}".encode()))


async def test_records_survive_reopening_in_order(tmp_path: Path) -> None:
    path = tmp_path / "device.keystore"
    ks = await asyncio.to_thread(Keystore.create, path, "pass phrase", kdf="fast")
    fill(DeviceState(ks))
    await ks.commit()
    await ks.close()
    ks = await asyncio.to_thread(Keystore.open, path, "pass phrase")
    again = DeviceState(ks)
    assert (again.cursor, again.account_id, again.identity_seed) == (41, "a" * 32, SEED)
    assert again.sessions[PEER] == ["c2Vzc2lvbg=="]
    assert again.outbox["e" * 32].to_account == "b" * 32
    assert [m.id for m in again.inbox.values()] == ["m0", "m1", "m2"]
    assert again.inbox.pop_first() is not None
    await ks.close()
    ks = await asyncio.to_thread(Keystore.open, path, "pass phrase")
    assert [m.id for m in DeviceState(ks).inbox.values()] == ["m1", "m2"], "a hand-over deletes one row"
    await ks.close()


async def test_a_record_counts_as_durable_only_once_a_durable_write_holding_it_landed(
    tmp_path: Path,
) -> None:
    # what Device.messages relies on to hand over only what a crash cannot take back
    ks = await asyncio.to_thread(Keystore.create, tmp_path / "device.keystore", "pass phrase", kdf="fast")
    state = DeviceState(ks)
    fill(state)
    written = ks.write()
    state.inbox["late"] = StoredMessage("late", "b" * 32, PEER, 9, 7, b64e(b"later"))
    assert ks.durable_seq < state.inbox.seq("m0"), "handed to the writer is not on disk yet"
    await written
    assert state.inbox.seq("m2") <= ks.durable_seq < state.inbox.seq("late")
    ks.commit_soon()  # a background write takes "late" without an fsync
    await asyncio.sleep(0)
    await ks.commit(durable=False)
    assert ks.durable_seq < state.inbox.seq("late")
    await ks.commit()  # nothing left to write, yet it must make "late" durable
    assert ks.durable_seq >= state.inbox.seq("late")
    await ks.close()


async def test_a_record_kind_added_later_is_stored_and_left_alone_by_code_that_does_not_know_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "device.keystore"
    pinned: RecordKind[dict[str, str]] = RecordKind("pinned_account_key")
    ks = await asyncio.to_thread(Keystore.create, path, "p", kdf="fast")
    ks.table(pinned)["acct"] = {"key": "AAAA"}
    await ks.commit()
    await ks.close()
    ks = await asyncio.to_thread(Keystore.open, path, "p")
    DeviceState(ks).cursor = 3  # code that knows only the device's kinds writes...
    await ks.commit()
    await ks.close()
    ks = await asyncio.to_thread(Keystore.open, path, "p")
    assert ks.table(pinned)["acct"] == {"key": "AAAA"}  # ...and the new kind's record is still there
    await ks.close()


async def test_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "device.keystore"
    await (await asyncio.to_thread(Keystore.create, path, "right", kdf="fast")).close()
    with pytest.raises(KeystoreError):
        await asyncio.to_thread(Keystore.open, path, "wrong")


async def test_a_second_open_is_refused_in_this_process_and_in_another(tmp_path: Path) -> None:
    path = tmp_path / "device.keystore"
    ks = await asyncio.to_thread(Keystore.create, path, "p", kdf="fast")
    with pytest.raises(KeystoreLocked, match="already open"):
        Keystore.open(path, "p")
    probe = (
        "import sys\nfrom client.keystore import Keystore, KeystoreLocked\n"
        "try:\n    Keystore.open(sys.argv[1], 'p')\nexcept KeystoreLocked as e:\n    print('refused:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("refused: this keystore is already open")
    await ks.close()
    reopened = await asyncio.to_thread(Keystore.open, path, "p")  # released by close
    await reopened.close()


async def test_file_holds_no_secret_or_identifier_in_clear_and_repr_hides_them(tmp_path: Path) -> None:
    path = tmp_path / "device.keystore"
    ks = await asyncio.to_thread(Keystore.create, path, "pass phrase", kdf="fast")
    state = DeviceState(ks)
    fill(state)
    await ks.commit()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for needle in (SEED.encode(), b"relay.test", PEER.encode(), b"secret 1", b"a" * 32, b"e" * 32):
        assert needle not in raw
    assert SEED not in repr(state) and "key=<hidden>" in repr(ks)
    await ks.close()


async def test_creating_over_an_existing_keystore_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "device.keystore"
    await (await asyncio.to_thread(Keystore.create, path, "p", kdf="fast")).close()
    with pytest.raises(KeystoreError):
        Keystore.create(path, "p", kdf="fast")


async def test_a_version_1_keystore_is_migrated_with_its_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "device.keystore"
    key = primitives.random_bytes(32)
    old = {
        "server_url": "http://relay.test", "account_id": "a" * 32, "device_id": "d" * 32, "role": "client",
        "identity_seed": SEED, "signed_prekeys": {"1": "AA=="}, "current_signed_prekey": 1,
        "one_time_prekeys": {"2": "AQ=="}, "next_prekey_id": 3, "sessions": {PEER: ["c2Vzc2lvbg=="]},
        "peer_identities": {PEER: "Ag=="}, "device_accounts": {PEER: "b" * 32}, "device_sets": {},
        "cursor": 9, "seen_ids": ["x", "y"], "key_changes": [],
        "inbox": [{"id": "m", "from_account": "b" * 32, "from_device": PEER, "pos": 9, "sent_at": 1,
                   "plaintext": "aGk="}],
        "outbox": [{"id": "o", "to_account": "b" * 32, "plaintext": "aGk=", "created_at": 1, "body": None}],
    }
    nonce = primitives.random_bytes(24)
    body = primitives.aead_encrypt(key, nonce, json.dumps(old).encode(), b"confidant-keystore-v1")
    doc = {"format": "confidant-keystore", "v": 1, "wrapped_key": _keywrap.wrap("p", key, "fast"),
           "nonce": b64e(nonce), "body": b64e(body)}
    path.write_text(json.dumps(doc))
    ks = await asyncio.to_thread(Keystore.open, path, "p")
    state = DeviceState(ks)
    assert (state.cursor, state.identity_seed, state.sessions[PEER]) == (9, SEED, ["c2Vzc2lvbg=="])
    assert list(state.seen) == ["x", "y"] and state.inbox["m"].pos == 9
    assert state.outbox["o"].plaintext == "aGk="
    await ks.close()
