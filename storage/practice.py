"""The practice's settings: rules an administrator sets for every account of this deployment.

One record per deployment. The server stores and serves it; the clients enforce it (a hostile server could
serve it switched off, so a client that once saw a rule on keeps enforcing it: docs/TRUST.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["PracticeSettings", "PracticeStore"]


@dataclass(frozen=True, slots=True)
class PracticeSettings:
    # Clients refuse to start, join or admit a video session with a contact whose safety number the person
    # has not verified (docs/TRUST.md, "Practice setting").
    require_verified_safety_numbers: bool = False
    updated_at: int = 0  # ms; 0 = never set (the defaults above)


class PracticeStore(Protocol):
    async def get_practice_settings(self) -> PracticeSettings:
        """The stored settings, or the defaults when an administrator never set them."""
        ...

    async def put_practice_settings(self, settings: PracticeSettings) -> None:
        """Replace the settings (one record: the last write wins)."""
        ...
