"""The port itself: every adapter's ``open()`` provides every store of ``Storage``, with every method of the
store's Protocol as a coroutine. A store added to the Protocol but not to an adapter fails here, not at
start."""

from __future__ import annotations

import inspect
from typing import get_type_hints

from storage import protocols
from storage.protocols import STORES, Storage


def _store_protocols() -> dict[str, type]:
    hints = {name: get_type_hints(member.fget) for name, member in vars(Storage).items()
             if isinstance(member, property) and member.fget is not None}
    return {name: hint["return"] for name, hint in hints.items()}


def _methods(protocol: type) -> list[str]:
    return [name for name, member in vars(protocol).items()
            if not name.startswith("_") and inspect.iscoroutinefunction(member)]


def test_stores_names_every_store_of_the_protocol() -> None:
    assert set(STORES) == set(_store_protocols())
    assert len(STORES) == len(set(STORES))
    assert "STORES" in protocols.__all__


async def test_every_adapter_provides_every_store(store: Storage) -> None:
    for name, protocol in _store_protocols().items():
        implementation = getattr(store, name)
        methods = _methods(protocol)
        assert methods, f"{protocol.__name__} declares no methods"
        for method in methods:
            assert inspect.iscoroutinefunction(getattr(implementation, method, None)), (
                f"{type(store).__name__}.{name} lacks async {method}()"
            )
