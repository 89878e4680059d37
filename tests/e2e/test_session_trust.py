"""Video sessions under the trust rules, through the hostile relay (docs/TRUST.md "Sessions").

- The therapist's client will not admit a participant whose account key changed and was not accepted.
- The practice setting "require verified safety numbers before a first session": enforced by the clients,
  and still enforced when the server later claims it is off.
Nothing is sealed to a key the person did not accept: the attacker's device gets no call and no envelope.
"""

from __future__ import annotations

import pytest

from client.calls import Call, call_devices_of, schedule_session
from client.device import Device
from client.errors import CallRefused, KeyChanged
from client.practice import requires_verified
from tests.e2e.conftest import PASSPHRASE
from tests.e2e.test_hostile_relay import Attacker, Scene, b64, next_event, scene

__all__ = ["scene"]  # the hostile-relay scene fixture, shared with tests/e2e/test_hostile_relay.py


async def _require_verified(scene: Scene, on: bool) -> None:
    set_to = await scene.admin.api.request("PUT", "/admin/practice", {"require_verified_safety_numbers": on})
    assert set_to["require_verified_safety_numbers"] is on


async def test_admit_is_refused_while_the_clients_key_changed_and_nothing_is_sealed_to_it(
    scene: Scene,
) -> None:
    therapist, client = scene.therapist, scene.client
    attacker = Attacker.new()
    await scene.relay.command(
        "swap_account_key",
        {
            "account_id": client.account_id,
            "account_key": b64(attacker.account_key.public.to_bytes()),
            "devices": [attacker.device(client.account_id)],
        },
    )
    session = await schedule_session(therapist, [client.account_id])
    host = await Call.join(therapist, session["session_id"])
    guest = await Call.join(client, session["session_id"])
    try:
        assert await host.next_waiting() == client.account_id  # the client knocks
        with pytest.raises(CallRefused) as refused:
            await host.admit(client.account_id)
        assert (refused.value.reason, refused.value.account_id) == ("key_changed", client.account_id)
        changed = await next_event(therapist, lambda e: isinstance(e, KeyChanged))
        assert changed.account_id == client.account_id  # shown to the therapist, with the way out
        assert host.member_state(client.account_id) == "waiting" and guest.state == "waiting"
        assert await call_devices_of(therapist, client.account_id) == {}  # nothing to seal signaling to
        assert await scene.attacker_mailbox(attacker) == []
        attacker.reads_nothing(await scene.captured_for(attacker))

        # The relay lists the key the therapist trusts again: the same client is let in.
        await scene.relay.command("swap_account_key", {"account_id": client.account_id, "clear": True})
        await host.admit(client.account_id)
        await guest.wait_admitted()
        assert set(await call_devices_of(therapist, client.account_id)) == {client.device_id}
    finally:
        await guest.close()
        await host.close()


async def test_verified_safety_numbers_are_required_even_after_the_server_says_the_rule_is_off(
    scene: Scene,
) -> None:
    therapist, client = scene.therapist, scene.client
    await _require_verified(scene, True)
    session = await schedule_session(therapist, [client.account_id])
    sid = session["session_id"]
    host = await Call.join(therapist, sid)
    # The client verified its therapist from the invitation fingerprint: it may knock.
    guest = await Call.join(client, sid)
    try:
        assert await host.next_waiting() == client.account_id
        with pytest.raises(CallRefused) as refused:  # the therapist never compared the client's number
            await host.admit(client.account_id)
        assert refused.value.reason == "unverified" and "verif" in str(refused.value)

        # The server now claims the practice has no such rule; the therapist's device saw it on: still no.
        await scene.relay.command("practice_off")
        served = await therapist.api.request("GET", "/practice")
        assert served["require_verified_safety_numbers"] is False
        assert await requires_verified(therapist)
        with pytest.raises(CallRefused):
            await host.admit(client.account_id)
        assert host.member_state(client.account_id) == "waiting"

        # They compare the number (here: both devices compute it) and the therapist verifies.
        assert therapist.safety_number(client.account_id) == client.safety_number(therapist.account_id)
        await therapist.verify(client.account_id)
        await host.admit(client.account_id)
        await guest.wait_admitted()
    finally:
        await guest.close()
        await host.close()

    # A client who joined by a code (no fingerprint) and never compared numbers does not even knock.
    invite = await therapist.invite_client()
    newcomer = await Device.register(
        scene.server.url, invite["code"], scene.root / "newcomer.ks", PASSPHRASE, kdf="fast"
    )
    try:
        await newcomer.accept_terms(therapist.account_id)
        await scene.relay.command("practice_off", {"on": False})
        await _require_verified(scene, True)
        assert await requires_verified(newcomer)  # seen on once ...
        await scene.relay.command("practice_off")  # ... the server's "off" is not believed
        later = await schedule_session(therapist, [newcomer.account_id])
        with pytest.raises(CallRefused) as refused:
            await Call.join(newcomer, later["session_id"])
        assert (refused.value.reason, refused.value.account_id) == ("unverified", therapist.account_id)
    finally:
        await newcomer.close()
