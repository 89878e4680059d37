"""Storage Protocols and adapters (SQLite embedded default) plus the cross-node Broker.

Depends on nothing else of ours. Services import the Protocols from ``storage.protocols``;
only the composition root (``server.app``) names a concrete adapter.
"""

from __future__ import annotations

from storage.errors import StorageError, StorageUnavailable

__all__ = ["StorageError", "StorageUnavailable"]
