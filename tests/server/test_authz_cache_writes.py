"""Tripwire for the authorization cache's exactness: every storage write that can change a send's facts
(server/services/authz_cache.py) must be made inside ``AuthzCache.after_commit``, which invalidates after the
commit. The writes are derived from the store Protocols, so a new one (say, erasing an account or removing a
link) fails here until it is either wrapped or listed below with the reason it changes no cached answer.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from storage.protocols import AccountStore, ConsentStore, DeviceStore, LinkStore

REPO = Path(__file__).resolve().parents[2]

NO_CACHED_FACT = {
    "add_link_code": "a code is not a device; redeeming it (add_device_with_link_code) is",
    "set_signed_prekey": "keys are not part of the facts; the device set is unchanged",
    "delete_expired_link_codes": "unused codes only",
    "delete_unreferenced_terms": "never the current version nor an accepted one, which are all a send reads",
}


def _fact_writes() -> set[str]:
    names: set[str] = set()
    for store in (AccountStore, ConsentStore, DeviceStore, LinkStore):
        for name, _ in inspect.getmembers(store, inspect.isfunction):
            if not name.startswith(("_", "get_", "count_")):
                names.add(name)
    return names - set(NO_CACHED_FACT)


def _unwrapped_calls(path: Path, writes: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    wrapped = {
        id(node.args[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "after_commit"
        and node.args
    }
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in writes
            and "storage" in ast.unparse(node.func.value)
            and id(node) not in wrapped
        ):
            found.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node.func)}")
    return found


def test_the_writes_that_change_a_send_are_known() -> None:
    assert _fact_writes() == {
        "add_account_from_invitation",
        "set_account_disabled",
        "add_device_with_link_code",
        "revoke_device",
        "add_terms",
        "add_consent",
        "erase_account",
        "delete_link",
    }


def test_every_such_write_invalidates_the_cache() -> None:
    writes = _fact_writes()
    offenders = [
        call
        for package in ("server", "signaling")
        for path in sorted((REPO / package).rglob("*.py"))
        for call in _unwrapped_calls(path, writes)
    ]
    assert offenders == []
