"""Fixtures for the video session tests: real coturn, loopback ICE."""

from tests.fixtures.coturn_proc import coturn
from tests.fixtures.webrtc import loopback_ice

__all__ = ["coturn", "loopback_ice"]
