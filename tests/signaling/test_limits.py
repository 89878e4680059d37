"""Signaling's limits agree with the crypto layer that seals the same bytes."""

from __future__ import annotations

from crypto import limits as crypto_limits
from signaling import limits


def test_a_signal_that_fits_signaling_fits_the_seal() -> None:
    assert limits.MAX_SIGNAL_BYTES == crypto_limits.MAX_SIGNAL_PLAINTEXT_BYTES
