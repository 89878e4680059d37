"""Losing every device, through the Python SDK against a real `confidant serve`: the recovery key re-creates a
device of the account (certified by the restored account key, like any other), which reads the notes and
talks to the client again; a wrong key fails clearly and adds nothing; the server never sees a key or note."""

from __future__ import annotations

import asyncio

import pytest

from client.errors import ApiError
from client.history import History
from client.recovery import restore_device
from client.vault import Vault
from crypto import errors as crypto_errors
from crypto import vault as vc
from tests.e2e._scan import find_leaks
from tests.e2e.conftest import PASSPHRASE, Practice

NOW = 1_767_225_600_000
NOTE = "Intake: lost her job in March; sleeping four hours a night. Screen for depression next time."


async def test_a_therapist_who_lost_every_device_restores_the_account_from_the_recovery_key(
    practice: Practice,
) -> None:
    p = practice
    lost = p.therapist
    await p.client.accept_terms(lost.account_id)
    recovery_text = lost.take_recovery_key()  # shown once when the account was made (Device.register)
    assert recovery_text is not None and lost.take_recovery_key() is None
    vault = Vault.of(lost)
    await vault.save_note(p.client.account_id, NOTE, now=NOW)
    # The conversation, written to the vault's history as it is read and sent.
    history = History(vault, lost.account_id)
    await p.client.send(lost.account_id, "I could not sleep again.")
    (first,) = await lost.receive(1)
    assert await history.record(first) == 1
    sent_id = await lost.send(p.client.account_id, "Let's talk about it tomorrow.")
    assert await history.record_sent(p.client.account_id, sent_id, "Let's talk about it tomorrow.", NOW) == 1
    assert await history.record(first) == 0  # recorded once, however often it is seen
    vault_key = vault._key()
    account_seed = lost.account_key.to_bytes()
    await lost.close()
    lost.keystore_path.unlink()  # the only device is gone, keystore and all

    wrong = vc.recovery_key_text(vc.new_recovery_key())
    with pytest.raises(ApiError) as refused:
        await restore_device(p.server.url, wrong, p.keystore("wrong"), PASSPHRASE, kdf="fast")
    assert refused.value.code == "not_found" and not p.keystore("wrong").exists()
    with pytest.raises(crypto_errors.InvalidKey):  # a typo is caught before any request
        await restore_device(
            p.server.url, recovery_text[:-2] + "00", p.keystore("typo"), PASSPHRASE, kdf="fast"
        )

    restored = p.remember(
        await restore_device(p.server.url, recovery_text, p.keystore("restored"), PASSPHRASE, kdf="fast")
    )
    assert restored.account_id == lost.account_id and restored.device_id != lost.device_id
    assert restored.account_key.to_bytes() == account_seed  # the same account key: contacts see no change
    notes = Vault.of(restored)
    await notes.sync()
    assert [n.body["text"] for n in notes.notes(p.client.account_id)] == [NOTE]
    past = History(notes, restored.account_id).conversation(p.client.account_id)
    assert [(m["from"], m["text"]) for m in past] == [
        (lost.account_id, "Let's talk about it tomorrow."),  # sent_at NOW: before the client's (now) message
        (p.client.account_id, "I could not sleep again."),
    ]

    # Certified like any other device: the client (who pinned the account key) encrypts to it.
    await p.client.refresh_devices()
    assert restored.device_id in {d.device_id for d in p.client.certified_devices(restored.account_id)}
    await p.client.send(restored.account_id, "Are we still on for Thursday?")
    (got,) = await restored.receive(1)
    assert got.body == "Are we still on for Thursday?"
    await restored.send(p.client.account_id, "Yes, 10am.")
    assert [m.body for m in await p.client.receive(2)] == ["Let's talk about it tomorrow.", "Yes, 10am."]

    key = vc.parse_recovery_key(recovery_text)
    derived = vc.derive_recovery(key)
    secrets = {
        "vault key": [vault_key],
        "account key seed": [account_seed],
        "recovery key": [key, recovery_text.encode(), recovery_text.replace("-", "").encode()],
        "wrap key": [derived.wrap_key],
        "authenticator": [derived.authenticator],
        "note": [NOTE.encode(), b"sleeping four hours", b"could not sleep again", b"talk about it tomorrow"],
    }
    files = [*p.server.storage_files(), p.server.log_path]
    assert find_leaks(files, secrets, verbatim=("note",)) == []


async def test_two_devices_appending_history_at_once_lose_nothing(practice: Practice) -> None:
    p = practice
    first = Vault.of(p.therapist)
    phone = await p.link_device(p.therapist, "therapist-phone")
    a = History(first, p.therapist.account_id)
    b = History(Vault.of(phone), phone.account_id)
    contact = p.client.account_id

    def item(n: int) -> dict[str, object]:
        return {"id": f"{n:032x}", "from": contact, "at": NOW + n, "text": f"message {n}"}

    await a.append(contact, [item(0)])
    await b.vault.sync()
    # Both append to the same chunk from the same version: one wins the race, the other merges and retries.
    await asyncio.gather(a.append(contact, [item(1), item(2)]), b.append(contact, [item(2), item(3)]))
    for h in (a, b):
        await h.vault.sync()
        assert [m["text"] for m in h.conversation(contact)] == [f"message {n}" for n in range(4)]
    assert len(a.chunks(contact)) == 1
