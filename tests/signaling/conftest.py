"""Fixtures for the video session tests: real coturn, loopback ICE."""

from tests.fixtures.coturn_proc import coturn
from tests.fixtures.webrtc import loopback_ice

__all__ = ["coturn", "loopback_ice"]


from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fixtures.coturn_proc import Coturn
from tests.signaling._kit import CallServer, serve


@pytest.fixture
async def call_server(tmp_path: Path, coturn: Coturn, loopback_ice: None) -> AsyncIterator[CallServer]:
    """The real app in-process on a loopback port, with TURN credentials for the test coturn."""
    async with serve(tmp_path, coturn) as srv:
        yield srv
