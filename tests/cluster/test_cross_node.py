"""Two nodes behind one Redis: E2EE messages live across nodes, presence, cluster-wide rate limits."""

from __future__ import annotations

import asyncio

import aiohttp

from storage.redis_broker import RedisBroker
from tests.cluster.conftest import PASSPHRASE, Cluster, bodies, eventually
from tests.fixtures.sdk_link import link_sdk_device


async def test_client_and_therapist_on_different_nodes_exchange_messages_live(cluster: Cluster) -> None:
    therapist = await cluster.therapist(node=1)
    client = await cluster.client(node=0, therapist=therapist)

    await client.send(therapist.account_id, "I had a hard week.")
    assert bodies(await therapist.receive(1, timeout=10)) == ["I had a hard week."]
    await therapist.send(client.account_id, "Thank you for telling me. Tuesday at 10?")
    received = await client.receive(1, timeout=10)
    assert bodies(received) == ["Thank you for telling me. Tuesday at 10?"]
    assert received[0].from_account == therapist.account_id
    # Live: both stayed connected to their own node the whole time (no reconnect, no polling).
    assert client.realtime.connects == 1 and therapist.realtime.connects == 1


async def test_presence_names_the_node_holding_the_connection(cluster: Cluster) -> None:
    therapist = await cluster.therapist(node=1)
    client = await cluster.client(node=0, therapist=therapist)
    broker = RedisBroker(cluster.redis.url)
    try:
        on_node = {
            "client": await broker.get_presence(client.device_id),
            "therapist": await broker.get_presence(therapist.device_id),
        }
        assert on_node["client"] is not None and on_node["therapist"] is not None
        assert on_node["client"] != on_node["therapist"]
        # The client moves to node 1: presence follows it, and it is still reachable live.
        client = await cluster.reopen(client, node=1)
        await eventually(
            lambda: _presence_is(broker, client.device_id, on_node["therapist"]), what="presence on node 1"
        )
        await therapist.send(client.account_id, "See you Tuesday.")
        assert bodies(await client.receive(1, timeout=10)) == ["See you Tuesday."]
    finally:
        await broker.close()


async def _presence_is(broker: RedisBroker, device_id: str, node: str | None) -> bool:
    return await broker.get_presence(device_id) == node


async def test_rate_limit_hit_on_one_node_holds_on_the_other(cluster: Cluster) -> None:
    # The login challenge limit is per IP (30 a minute): exhaust it on node 0, then ask node 1.
    async with aiohttp.ClientSession() as http:
        url = "/api/v1/auth/challenge"
        body = {"device_id": "0" * 32}
        statuses = []
        for _ in range(40):
            async with http.post(cluster.url(0) + url, json=body) as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    break
        assert statuses[-1] == 429, statuses
        async with http.post(cluster.url(1) + url, json=body) as resp:
            error = await resp.json()
            assert resp.status == 429, error
            assert error["error"]["code"] == "rate_limited"
            assert int(resp.headers["Retry-After"]) >= 1


async def test_many_clients_on_both_nodes_reach_one_therapist_each_message_once(cluster: Cluster) -> None:
    therapist = await cluster.therapist(node=1)
    clients = [await cluster.client(node=i % 2, therapist=therapist) for i in range(4)]
    expected = set()
    sends = []
    for n in range(5):
        for i, client in enumerate(clients):
            text = f"client {i} message {n}"
            expected.add(text)
            sends.append(client.send(therapist.account_id, text))
    await asyncio.gather(*sends)
    received = await therapist.receive(len(expected), timeout=20)
    assert set(bodies(received)) == expected
    assert len(received) == len(expected)


async def test_three_nodes_a_therapists_two_devices_on_different_nodes_both_get_every_message(
    cluster3: Cluster,
) -> None:
    therapist = await cluster3.therapist(node=1)
    second = await link_sdk_device(
        therapist,
        cluster3.tmp / "therapist-second.keystore",
        PASSPHRASE,
        server_url=cluster3.url(2),
        kdf="fast",
    )
    cluster3.devices.append(second)
    client = await cluster3.client(node=0, therapist=therapist)

    await client.send(therapist.account_id, "Can we move to Thursday?")
    assert bodies(await therapist.receive(1, timeout=10)) == ["Can we move to Thursday?"]
    assert bodies(await second.receive(1, timeout=10)) == ["Can we move to Thursday?"]
    # A reply from one device reaches the client, and the therapist's other device keeps a copy.
    await therapist.send(client.account_id, "Thursday at 10 works.")
    assert bodies(await client.receive(1, timeout=10)) == ["Thursday at 10 works."]
    [copy] = await second.receive(1, timeout=10)
    assert copy.body == "Thursday at 10 works." and copy.to_account == client.account_id


async def test_revoking_a_device_closes_its_connection_on_another_node(cluster: Cluster) -> None:
    therapist = await cluster.therapist(node=0)
    lost = await link_sdk_device(
        therapist, cluster.tmp / "lost-phone.keystore", PASSPHRASE, server_url=cluster.url(1), kdf="fast"
    )
    cluster.devices.append(lost)
    assert lost.realtime.connected.is_set()

    await therapist.api.revoke_device(lost.device_id)  # handled by node 0; the lost phone is on node 1
    await eventually(lambda: not lost.realtime.connected.is_set(), timeout=10, what="the connection closed")
    assert lost.realtime.connects == 1  # and it cannot come back: its keys no longer log in
