"""The device keystore: survives reopening, refuses a wrong passphrase, never shows secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.errors import KeystoreError
from client.keystore import KeystoreState, OutboxEntry, SealedFile


def state() -> KeystoreState:
    return KeystoreState(
        server_url="http://relay.test",
        account_id="a" * 32,
        device_id="d" * 32,
        role="client",
        identity_seed="c2VjcmV0LXNlZWQtc2VjcmV0LXNlZWQtc2VjcmV0LXM=",
    )


def test_state_round_trips_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "device.keystore"
    sealed = SealedFile.create(path, "pass phrase", kdf="fast")
    s = state()
    s.cursor = 41
    s.outbox.append(OutboxEntry(id="e" * 32, to_account="b" * 32, plaintext="aGk=", created_at=1))
    sealed.save(s)
    _, again = SealedFile.open(path, "pass phrase")
    assert again == s
    assert list(tmp_path.iterdir()) == [path], "no temporary file left behind"


def test_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "device.keystore"
    SealedFile.create(path, "right", kdf="fast").save(state())
    with pytest.raises(KeystoreError):
        SealedFile.open(path, "wrong")


def test_file_holds_no_secret_in_clear_and_repr_hides_them(tmp_path: Path) -> None:
    path = tmp_path / "device.keystore"
    sealed = SealedFile.create(path, "pass phrase", kdf="fast")
    s = state()
    sealed.save(s)
    raw = path.read_bytes()
    assert s.identity_seed.encode() not in raw and b"relay.test" not in raw
    assert s.identity_seed not in repr(s) and "key=<hidden>" in repr(sealed)


def test_creating_over_an_existing_keystore_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "device.keystore"
    SealedFile.create(path, "p", kdf="fast").save(state())
    with pytest.raises(KeystoreError):
        SealedFile.create(path, "p", kdf="fast")
