"""Names through the Python SDK against a real `confidant serve` (docs/PROTOCOL.md section 23): the name a
therapist types at invitation reaches the client's account and every device of the therapist; a display name
travels end to end to a contact, who keeps it in their own vault for their other devices; the therapist's own
name for a client wins over what the client sends; bad names are refused with a clear error; the database
and log hold none of the names."""

from __future__ import annotations

import pytest

from client.device import Device
from client.names import InvalidName, Names
from client.vault import Vault
from tests.e2e._scan import find_leaks
from tests.e2e.conftest import PASSPHRASE, Practice, next_event

CLIENT_NAME = "Marguerite Okonkwo-Lindqvist"
THERAPIST_DISPLAY = "Dr. Ines Vandersloot"
CLIENT_DISPLAY = "Sunny from the Tuesday group"


async def test_names_reach_every_device_and_the_own_name_wins(practice: Practice) -> None:
    p = practice
    therapist, admin = p.therapist, p.admin
    t_vault = Vault.of(therapist)
    t_names = Names(therapist, t_vault)

    # The name typed at invitation time is bound to the account that redeems the invitation.
    invite = await therapist.invite_client()
    await t_vault.name_invitation(invite["invitation_id"], CLIENT_NAME)
    client = p.remember(
        await Device.register(p.server.url, invite["url"], p.keystore("named-client"), PASSPHRASE, kdf="fast")
    )
    await client.accept_terms(therapist.account_id)
    listed = await therapist.api.list_invitations()
    assert await t_vault.bind_invitations(listed["invitations"]) == 1
    assert t_names.name_of(client.account_id) == CLIENT_NAME

    # The therapist's display name, end to end: the client sees it and keeps it in its own vault.
    with pytest.raises(InvalidName, match="line breaks"):
        await t_names.set_display_name("Dr. Ines\nVandersloot", [client.account_id])
    assert t_vault.display_name() is None  # refused before anything was written or sent
    await t_names.set_display_name(THERAPIST_DISPLAY, [client.account_id])
    got = await next_event(client, "profile")
    assert got == {"event": "profile", "account_id": therapist.account_id, "display_name": THERAPIST_DISPLAY}
    c_vault = Vault.of(client)
    c_names = Names(client, c_vault)
    assert c_names.name_of(therapist.account_id) == THERAPIST_DISPLAY
    assert await c_names.keep_received() == 1 and await c_names.keep_received() == 0
    client_phone = await p.link_device(client, "named-client-phone")
    phone_vault = Vault.of(client_phone)
    await phone_vault.sync()
    assert Names(client_phone, phone_vault).name_of(therapist.account_id) == THERAPIST_DISPLAY

    # The client sends a display name too: the therapist's own name for the client still wins.
    await c_vault.set_display_name(CLIENT_DISPLAY)
    assert await c_names.send_profile(therapist.account_id)
    assert (await next_event(therapist, "profile"))["display_name"] == CLIENT_DISPLAY
    assert therapist.contact_display_name(client.account_id) == CLIENT_DISPLAY
    await t_names.keep_received()
    assert t_names.name_of(client.account_id) == CLIENT_NAME

    # The therapist's second device shows the same name and the same display name.
    second = await p.link_device(therapist, "therapist-laptop")
    second_vault = Vault.of(second)
    await second_vault.sync()
    assert Names(second, second_vault).name_of(client.account_id) == CLIENT_NAME
    assert second_vault.display_name() == THERAPIST_DISPLAY

    # A profile is never a message: neither side got one in its inbox.
    await therapist.send(client.account_id, "See you Thursday")
    assert [m.body for m in await client.receive(1)] == ["See you Thursday"]
    assert len(client.inbox) == 0

    # The administrator's label for the therapist lives in the administrator's vault only.
    a_vault = Vault.of(admin)
    await a_vault.set_contact_name(therapist.account_id, "Ines (Harbour St practice)")
    await a_vault.sync()
    assert a_vault.contact_names() == {therapist.account_id: "Ines (Harbour St practice)"}

    names = [CLIENT_NAME, THERAPIST_DISPLAY, CLIENT_DISPLAY, "Ines (Harbour St practice)", "Harbour St"]
    files = [*p.server.storage_files(), p.server.log_path]
    assert find_leaks(files, {"name": [n.encode() for n in names]}, verbatim=("name",)) == []
