"""The vault through the Python SDK against a real `confidant serve`: a therapist's notes, names and display
name on a second device, two devices editing one note at once (both versions kept), deletion, the recovery
key (wrong and mistyped keys fail clearly), and a scan of the database and log for
every note, name and key."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from client.errors import ApiError
from client.vault import Vault, VaultLocked, fetch_recovery
from crypto import errors as crypto_errors
from crypto import vault as vc
from storage.sqlite.database import DATABASE_FILE
from tests.e2e._scan import find_leaks
from tests.e2e.conftest import Practice

NOW = 1_767_225_600_000
NOTE_1 = "Sleep improved; nightmares twice this week. Try the grounding exercise before bed."
NOTE_2 = "Session 4: talked about her sister. Follow up on the panic attack at work."
NAME = "Marguerite Okonkwo-Lindqvist"
DISPLAY = "Dr. Ines Vandersloot"


class _NoSecrets:
    """The account secrets of a keystore the vault key never reached."""

    def get_account_secrets(self) -> dict[int, bytes]:
        return {}

    def set_account_secrets(self, secrets: dict[int, bytes]) -> None:
        raise AssertionError("nothing is written without a key")


async def _wake(device: object) -> int:
    """The next vault_changed position pushed to this SDK device."""
    events: asyncio.Queue[dict[str, object]] = device.events  # type: ignore[attr-defined]
    while True:
        event = await asyncio.wait_for(events.get(), 10)
        if event.get("event") == "vault_changed":
            return int(str(event["position"]))


async def test_notes_and_names_reach_a_second_device_and_nothing_readable_is_stored(
    practice: Practice,
) -> None:
    p = practice
    therapist, client_id = p.therapist, p.client.account_id
    first = Vault.of(therapist)
    assert first.has_key()  # made with the account (Device.register)
    with pytest.raises(VaultLocked):  # a keystore the key never reached (no linking, no recovery key)
        await Vault(therapist.api, therapist.account_id, _NoSecrets()).sync()
    await first.set_display_name(DISPLAY)
    await first.set_contact_name(client_id, NAME)
    older = await first.save_note(client_id, NOTE_1, now=NOW)
    await first.save_note(client_id, NOTE_2, now=NOW + 60_000, session_id="ab" * 16, session_at=NOW + 50_000)
    recovery_text = await first.create_recovery_key()

    second_device = await p.link_device(therapist, "therapist-2")
    second = Vault.of(second_device)
    assert second.has_key()  # approved linking carried the vault key (account secrets, type 0x01)
    await second.adopt_recovery_key(recovery_text)  # the same key again: nothing changes
    await second.sync()
    assert [n.body["text"] for n in second.notes(client_id)] == [NOTE_2, NOTE_1]  # newest first
    assert second.notes(client_id)[0].body["session_id"] == "ab" * 16
    assert second.contact_names() == {client_id: NAME} and second.display_name() == DISPLAY
    assert [n.body["text"] for n in second.search_notes("GROUNDING exercise")] == [NOTE_1]

    # Both devices edit the first note from version 1: nothing is lost, both versions are shown.
    edited_first = await first.save_note(
        client_id, NOTE_1 + " Edited on the laptop.", note_id=older.entry.record_id, now=NOW + 1
    )
    assert edited_first.conflict is None and await _wake(second_device) >= 1
    clash = await second.save_note(
        client_id, NOTE_1 + " Edited on the phone.", note_id=older.entry.record_id, now=NOW + 2
    )
    assert clash.conflict is not None and clash.conflict.body["text"].endswith("laptop.")
    assert clash.entry.body["conflict_of"] == older.entry.record_id
    await first.sync()
    texts = {n.body["text"] for n in first.notes(client_id)}
    assert {NOTE_1 + " Edited on the laptop.", NOTE_1 + " Edited on the phone.", NOTE_2} == texts

    # Deleting removes the record from the server and from the other device.
    await second.delete(clash.entry.record_id)
    await first.sync()
    assert len(first.notes(client_id)) == 2
    db = sqlite3.connect(f"file:{p.server.data_dir / DATABASE_FILE}?mode=ro", uri=True)
    try:
        assert (
            db.execute("SELECT COUNT(*) FROM vault_records").fetchone()[0] == 4
        )  # 2 notes, a name, a profile
    finally:
        db.close()

    # The client's own vault is separate: it sees none of this.
    client_vault = Vault.of(p.client)
    await client_vault.sync()
    assert client_vault.entries == {}

    # Scan: no note, name, display name or key anywhere on the server side.
    key = vc.parse_recovery_key(recovery_text)
    derived = vc.derive_recovery(key)
    secrets = {
        "vault key": [first._key()],
        "recovery key": [key, recovery_text.encode(), recovery_text.replace("-", "").encode()],
        "wrap key": [derived.wrap_key],
        "authenticator": [derived.authenticator],
        "note": [NOTE_1.encode(), NOTE_2.encode(), b"Edited on the laptop", b"grounding exercise"],
        "name": [NAME.encode(), DISPLAY.encode()],
    }
    files = [*p.server.storage_files(), p.server.log_path]
    assert find_leaks(files, secrets, verbatim=("note", "name")) == []


async def test_recovery_with_a_wrong_or_mistyped_key_fails_clearly(practice: Practice) -> None:
    p = practice
    vault = Vault.of(p.therapist)
    text = p.therapist.take_recovery_key()  # made with the account, handed out once
    assert text is not None and p.therapist.take_recovery_key() is None
    recovered = await fetch_recovery(p.server.url, text.lower().replace("-", " "))
    assert recovered.account_id == p.therapist.account_id and recovered.vault_key == vault._key()

    with pytest.raises(crypto_errors.InvalidKey):  # a typo is caught on the device, before any request
        await fetch_recovery(p.server.url, text[:-1] + ("0" if text[-1] != "0" else "1"))
    wrong = vc.recovery_key_text(vc.new_recovery_key())
    with pytest.raises(ApiError) as refused:
        await fetch_recovery(p.server.url, wrong)
    assert refused.value.code == "not_found"

    # A new recovery key retires the old one.
    newer = await vault.create_recovery_key()
    with pytest.raises(ApiError):
        await fetch_recovery(p.server.url, text)
    assert (await fetch_recovery(p.server.url, newer)).vault_key == vault._key()


async def test_a_hostile_server_cannot_move_or_roll_back_a_record(practice: Practice) -> None:
    """The relay swaps one note's ciphertext into another record and serves an older version as current: the
    device shows neither as the other note; it flags them unreadable."""
    p = practice
    vault = Vault.of(p.therapist)
    a = await vault.save_note(p.client.account_id, "first note", now=NOW)
    b = await vault.save_note(p.client.account_id, "second note", now=NOW + 1)
    old_a = await vault.save_note(
        p.client.account_id, "first note v2", note_id=a.entry.record_id, now=NOW + 2
    )
    db = sqlite3.connect(p.server.data_dir / DATABASE_FILE, timeout=10)
    try:
        with db:
            (cipher_a,) = db.execute(
                "SELECT ciphertext FROM vault_records WHERE record_id = ?", (a.entry.record_id,)
            ).fetchone()
            db.execute(  # move a's ciphertext to b, and claim it is b's next version
                "UPDATE vault_records SET ciphertext = ?, version = version + 1, seq = seq + 100 "
                "WHERE record_id = ?",
                (cipher_a, b.entry.record_id),
            )
            db.execute(  # serve a's version 2 ciphertext as version 3
                "UPDATE vault_records SET version = 3, seq = seq + 100 WHERE record_id = ?",
                (a.entry.record_id,),
            )
    finally:
        db.close()
    fresh = Vault.of(p.therapist)
    await fresh.sync()
    assert fresh.unreadable == {a.entry.record_id, b.entry.record_id}
    assert fresh.notes() == [] and old_a.entry.version == 2
