"""The server is the adversary: every trust claim of docs/TRUST.md, attacked through the hostile relay.

Each attack is refused, or shown to the person before anything is sent, and nothing ever decrypts on the
attacker's device: the tests read the attacker's own mailbox (as the operator can) and try its own keys on
every envelope the relay ever stored for it.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from client.api import ApiClient
from client.device import Device
from client.errors import ApiError, KeyChanged
from client.names import Profile
from crypto import (
    AccountKeyPair,
    CryptoError,
    DeviceCertificate,
    IdentityKeyPair,
    Session,
    SignedPreKeyPair,
    generate_one_time_prekeys,
    linking,
)
from crypto.keys import X25519KeyPair
from tests.e2e.conftest import PASSPHRASE, TERMS
from tests.fixtures.hostile_relay import HostileControl, HostileServer

JSON = dict[str, Any]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class Attacker:
    """The operator's own device keys; ``account_key`` certifies what it plants (no one pinned it)."""

    identity: IdentityKeyPair
    spk: SignedPreKeyPair
    account_key: AccountKeyPair
    device_id: str

    @classmethod
    def new(cls) -> Attacker:
        identity = IdentityKeyPair.generate()
        return cls(
            identity, SignedPreKeyPair.generate(identity, 1), AccountKeyPair.generate(), secrets.token_hex(16)
        )

    def device(self, account_id: str) -> JSON:
        cert = DeviceCertificate.issue(
            self.account_key,
            bytes.fromhex(account_id),
            bytes.fromhex(self.device_id),
            self.identity.public,
            1,
        )
        spk = self.spk.public_part()
        return {
            "device_id": self.device_id,
            "identity_key": b64(self.identity.public.to_bytes()),
            "certificate": {"created_at": cert.created_at, "signature": b64(cert.signature)},
            "signed_prekey": {
                "id": spk.key_id,
                "public": b64(spk.public.to_bytes()),
                "signature": b64(spk.signature),
            },
            "one_time_prekeys": [
                {"id": k.key_id, "public": b64(k.public_part().public.to_bytes())}
                for k in generate_one_time_prekeys(1, 5)
            ],
        }

    def reads_nothing(self, captured: list[JSON]) -> None:
        """No envelope the relay stored for this device opens with the attacker's own keys."""
        for env in captured:
            with pytest.raises(CryptoError):
                Session.accept(
                    self.identity,
                    bytes.fromhex(self.device_id),
                    lambda _id: self.spk,
                    lambda _id: None,
                    base64.b64decode(env["ciphertext"]),
                )


@dataclass
class Scene:
    server: HostileServer
    relay: HostileControl
    root: Path
    admin: Device
    therapist: Device
    client: Device

    async def attacker_mailbox(self, attacker: Attacker) -> list[JSON]:
        return list((await self.relay.command("mailbox", {"device_id": attacker.device_id}))["envelopes"])

    async def captured_for(self, attacker: Attacker) -> list[JSON]:
        return list((await self.relay.command("captured", {"to_device": attacker.device_id}))["envelopes"])


async def next_event(device: Device, predicate: Any, timeout: float = 15.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            event = await device.events.get()
            if predicate(event):
                return event


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    server = HostileServer(tmp_path / "data", log_path=tmp_path / "server.log")
    await server.start_async()
    root = tmp_path / "devices"
    devices: list[Device] = []
    try:
        admin = await Device.register(
            server.url, server.admin_code(), root / "admin.ks", PASSPHRASE, kdf="fast"
        )
        devices.append(admin)
        invite = await admin.invite_therapist()
        therapist = await Device.register(
            server.url, invite["url"], root / "therapist.ks", PASSPHRASE, kdf="fast"
        )
        devices.append(therapist)
        await therapist.publish_terms(TERMS)
        client_invite = await therapist.invite_client()
        # From the link with the therapist's fingerprint: verified from the first message.
        client = await Device.register(
            server.url, client_invite["url"], root / "client.ks", PASSPHRASE, kdf="fast"
        )
        devices.append(client)
        await client.accept_terms(therapist.account_id)
        [contact] = await client.contacts()
        assert contact.verified and not contact.blocked
        await client.send(therapist.account_id, "hello", timeout=30)
        assert [m.body for m in await therapist.receive(1)] == ["hello"]
        await therapist.send(client.account_id, "hello back", timeout=30)
        assert [m.body for m in await client.receive(1)] == ["hello back"]
        yield Scene(server, HostileControl(server.url), root, admin, therapist, client)
    finally:
        for device in devices:
            await device.close()
        server.stop()


async def test_a_stolen_token_cannot_enrol_a_device(scene: Scene) -> None:
    stolen = scene.client.api.token
    attacker = Attacker.new()
    before = (await scene.client.api.me())["devices"]
    async with ApiClient(scene.server.url) as api:
        link_key, offer = X25519KeyPair.generate(), X25519KeyPair.generate()
        created = await api.create_link(
            b64(link_key.public.to_bytes()), attacker.device_id, b64(attacker.identity.public.to_bytes())
        )
        api.token = stolen
        await api.offer_link(created["link_id"], b64(offer.public.to_bytes()))
        await api.approve_link(created["link_id"], b64(b"not a sealed bundle, the thief has no account key"))
        # Everything a token allows is done; registering still needs the ACCOUNT key's certificate.
        with pytest.raises(ApiError) as refused:
            await api.register_linked_device(created["link_id"], attacker.device(scene.client.account_id))
        assert refused.value.code == "signature_invalid"
    assert (await scene.client.api.me())["devices"] == before
    [contact] = await scene.therapist.contacts()
    assert list(contact.devices) == [scene.client.device_id]
    assert await scene.attacker_mailbox(attacker) == []


async def test_an_uncertified_device_listed_by_the_relay_gets_nothing(scene: Scene) -> None:
    attacker = Attacker.new()
    # The operator writes a device into the therapist's account, certified by a key nobody pinned.
    await scene.relay.command(
        "plant_device",
        {"account_id": scene.therapist.account_id, "device": attacker.device(scene.therapist.account_id)},
    )
    [contact] = await scene.client.contacts()
    assert attacker.device_id not in contact.devices
    notice = await next_event(
        scene.client, lambda e: isinstance(e, dict) and e.get("event") == "untrusted_device"
    )
    assert notice["device_id"] == attacker.device_id  # shown to the person

    with pytest.raises(ApiError) as refused:  # the relay insists on the device: the send is refused
        await scene.client.send(scene.therapist.account_id, "my address is 12 Elm Street", timeout=60)
    assert refused.value.code == "device_set_mismatch"
    assert await scene.attacker_mailbox(attacker) == []
    captured = await scene.captured_for(attacker)
    assert captured == []
    attacker.reads_nothing(captured)
    assert (
        scene.client.certified_devices(scene.therapist.account_id)[0].device_id == scene.therapist.device_id
    )


async def test_a_swapped_account_key_blocks_sending_until_the_key_is_back(scene: Scene) -> None:
    attacker = Attacker.new()
    await scene.relay.command(
        "swap_account_key",
        {
            "account_id": scene.therapist.account_id,
            "account_key": b64(attacker.account_key.public.to_bytes()),
            "devices": [attacker.device(scene.therapist.account_id)],
        },
    )
    [contact] = await scene.client.contacts()
    assert contact.blocked and not contact.verified and contact.devices == ()
    changed = await next_event(scene.client, lambda e: isinstance(e, KeyChanged))
    assert changed.account_id == scene.therapist.account_id
    assert scene.client.certified_devices(scene.therapist.account_id) == []  # no call either
    # The safety numbers differ: the person, comparing with the therapist, does not accept.
    assert scene.client.safety_number(scene.therapist.account_id) != scene.therapist.safety_number(
        scene.client.account_id
    )

    queued = scene.client.enqueue(scene.therapist.account_id, "I relapsed last night")
    await scene.client.flush(timeout=10)  # returns: the only entry waits for the person's decision
    assert list(scene.client.state.outbox) == [queued]
    assert await scene.attacker_mailbox(attacker) == []
    attacker.reads_nothing(await scene.captured_for(attacker))

    # The relay gives up; the listing shows the pinned key again and the queued message goes out.
    await scene.relay.command("swap_account_key", {"account_id": scene.therapist.account_id, "clear": True})
    await scene.client.contacts()
    assert [m.body for m in await scene.therapist.receive(1, timeout=30)] == ["I relapsed last night"]


async def test_the_invitation_fingerprint_catches_a_swapped_key_at_first_contact(scene: Scene) -> None:
    attacker = Attacker.new()
    await scene.relay.command(
        "swap_account_key",
        {
            "account_id": scene.therapist.account_id,
            "account_key": b64(attacker.account_key.public.to_bytes()),
            "devices": [attacker.device(scene.therapist.account_id)],
        },
    )
    invite = await scene.therapist.invite_client()
    newcomer = await Device.register(
        scene.server.url, invite["url"], scene.root / "newcomer.ks", PASSPHRASE, kdf="fast"
    )
    try:
        [contact] = await newcomer.contacts()
        assert contact.blocked and not contact.verified
        changed = await next_event(newcomer, lambda e: isinstance(e, KeyChanged))
        assert changed.reason == "invitation_mismatch"
        assert newcomer.certified_devices(scene.therapist.account_id) == []
        queued = newcomer.enqueue(scene.therapist.account_id, "first message")
        await newcomer.flush(timeout=10)
        assert list(newcomer.state.outbox) == [queued]
        assert await scene.attacker_mailbox(attacker) == []
    finally:
        await newcomer.close()


async def test_replayed_session_start_and_old_envelope_are_refused(scene: Scene) -> None:
    client, therapist = scene.client, scene.therapist
    await scene.relay.command("withhold_one_time_prekeys", {"on": True})
    client.book.drop(therapist.device_id)  # a new session, started from a bundle without one-time prekey
    await client.send(therapist.account_id, "new session", timeout=30)
    assert [m.body for m in await therapist.receive(1)] == ["new session"]
    await therapist.send(client.account_id, "reply", timeout=30)
    assert [m.body for m in await client.receive(1)] == ["reply"]
    await client.send(therapist.account_id, "second", timeout=30)
    assert [m.body for m in await therapist.receive(1)] == ["second"]

    envelopes = [
        e
        for e in (await scene.relay.command("captured", {"to_device": therapist.device_id}))["envelopes"]
        if e["from_device"] == client.device_id
    ]
    prekey = next(e for e in envelopes if e["type"] == "prekey" and e is not envelopes[0])
    old = envelopes[-1]
    await scene.relay.command("replay", {"envelope": prekey})
    await scene.relay.command("replay", {"envelope": old})
    refused = [
        await next_event(therapist, lambda e: isinstance(e, dict) and e.get("event") == "undecryptable")
        for _ in range(2)
    ]
    assert len(refused) == 2
    # Nothing was delivered twice, and the session was not replaced: the conversation goes on.
    await client.send(therapist.account_id, "still readable", timeout=30)
    assert [m.body for m in await therapist.receive(1)] == ["still readable"]
    await therapist.send(client.account_id, "and back", timeout=30)
    assert [m.body for m in await client.receive(1)] == ["and back"]


async def test_linking_needs_the_person_on_an_existing_device(scene: Scene) -> None:
    """The honest path: approved on the client's phone, the tablet gets the account key; a relay in the
    middle of a link makes the two comparison strings differ (tests/crypto/test_trust.py)."""
    request = await Device.request_link(scene.server.url)
    approval_task = asyncio.create_task(scene.client.approve_link(request.code))
    comparison = await request.wait_for_offer(timeout=30)
    approval = await approval_task
    assert approval.comparison == comparison
    await approval.approve()
    tablet = await request.complete(
        scene.root / "tablet.ks", PASSPHRASE, confirmed=True, kdf="fast", timeout=30
    )
    try:
        assert tablet.account_id == scene.client.account_id
        assert tablet.account_key.public == scene.client.account_key.public
        added = await next_event(
            scene.therapist, lambda e: isinstance(e, dict) and e.get("event") == "device_added"
        )
        assert added["device_id"] == tablet.device_id  # "<client> added a device" is shown to the therapist
        await scene.therapist.send(scene.client.account_id, "to both devices", timeout=30)
        assert [m.body for m in await tablet.receive(1)] == ["to both devices"]
    finally:
        await tablet.close()
    assert linking.LINK_VERSION == 2


async def test_a_replayed_display_name_cannot_roll_a_name_back(scene: Scene) -> None:
    """PROTOCOL.md section 23: the relay stores the old profile envelope again under a new id; it is refused
    and the client keeps the therapist's newest display name, which the relay never saw in clear."""
    client, therapist = scene.client, scene.therapist
    profile = lambda e: isinstance(e, dict) and e.get("event") == "profile"  # noqa: E731
    await therapist.send(client.account_id, Profile("Dr. Old Name"), timeout=30)
    assert (await next_event(client, profile))["display_name"] == "Dr. Old Name"
    await therapist.send(client.account_id, Profile("Dr. New Name"), timeout=30)
    assert (await next_event(client, profile))["display_name"] == "Dr. New Name"
    envelopes = (await scene.relay.command("captured", {"to_device": client.device_id}))["envelopes"]
    old = [e for e in envelopes if e["from_device"] == therapist.device_id][-2]
    await scene.relay.command("replay", {"envelope": old})
    await next_event(client, lambda e: isinstance(e, dict) and e.get("event") == "undecryptable")
    assert client.contact_display_name(therapist.account_id) == "Dr. New Name"
    assert not any(b"Name" in base64.b64decode(e["ciphertext"]) for e in envelopes)
