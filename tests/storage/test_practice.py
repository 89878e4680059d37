"""The practice settings store contract, on every adapter of the storage port (the ``store`` fixture)."""

from __future__ import annotations

from storage.practice import PracticeSettings
from storage.protocols import Storage

NOW = 1_800_000_000_000


async def test_defaults_until_set_then_the_last_write_wins(store: Storage) -> None:
    practice = store.practice
    assert await practice.get_practice_settings() == PracticeSettings(False, 0)
    await practice.put_practice_settings(PracticeSettings(True, NOW))
    assert await practice.get_practice_settings() == PracticeSettings(True, NOW)
    await practice.put_practice_settings(PracticeSettings(False, NOW + 5))
    assert await practice.get_practice_settings() == PracticeSettings(False, NOW + 5)
