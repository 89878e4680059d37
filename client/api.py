"""HTTP calls of docs/API.md, one method per route; error objects become :class:`ApiError`.

Results are the decoded JSON objects of the contract (``dict``); binary fields stay base64 text here and are
decoded by the layer that uses them. Authenticated calls send the current bearer token; when the server
answers ``unauthenticated`` and a ``reauth`` callback is set, the client logs in again once and retries.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, BinaryIO

import aiohttp

from client.errors import ApiError, TransportError

__all__ = ["ApiClient"]

JSON = dict[str, Any]
PREFIX = "/api/v1"


class ApiClient:
    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        token: str | None = None,
        reauth: Callable[[], Awaitable[str]] | None = None,
        timeout: float = 30.0,
        source_host: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.reauth = reauth
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._source_host = source_host  # local address to connect from (multi-homed hosts, load tests)

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing ------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = None
            if self._source_host is not None:
                connector = aiohttp.TCPConnector(local_addr=(self._source_host, 0))
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        body: JSON | None = None,
        *,
        auth: bool = True,
        params: dict[str, str] | None = None,
    ) -> JSON:
        """One call; re-login once on ``unauthenticated`` if ``reauth`` is set."""
        try:
            return await self._request_once(method, path, body, auth=auth, params=params)
        except ApiError as err:
            if not (auth and err.code == "unauthenticated" and self.reauth is not None):
                raise
            self.token = await self.reauth()
            return await self._request_once(method, path, body, auth=auth, params=params)

    async def _request_once(
        self, method: str, path: str, body: JSON | None, *, auth: bool, params: dict[str, str] | None
    ) -> JSON:
        headers = self._auth() if auth else {}
        url = self.base_url + (path if path in ("/healthz", "/readyz") else PREFIX + path)
        try:
            async with self._http().request(method, url, json=body, headers=headers, params=params) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransportError(f"{method} {path}: {exc.__class__.__name__}") from exc
        return _decoded(raw, status)

    # -- health ------

    async def readyz(self) -> JSON:
        return await self.request("GET", "/readyz", auth=False)

    # -- invitations, accounts, devices ------

    async def create_invitation(
        self, role: str, ttl_seconds: int | None = None, label_ciphertext: str | None = None
    ) -> JSON:
        body: JSON = {"role": role}
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        if label_ciphertext is not None:
            body["label_ciphertext"] = label_ciphertext
        return await self.request("POST", "/invitations", body)

    async def list_invitations(self) -> JSON:
        return await self.request("GET", "/invitations")

    async def revoke_invitation(self, invitation_id: str) -> JSON:
        return await self.request("DELETE", f"/invitations/{invitation_id}")

    async def create_account(self, invitation_code: str, account: JSON, device: JSON) -> JSON:
        body = {"invitation_code": invitation_code, "account": account, "device": device}
        return await self.request("POST", "/accounts", body, auth=False)

    async def me(self) -> JSON:
        return await self.request("GET", "/me")

    async def create_link(self, link_key: str, device_id: str, identity_key: str) -> JSON:
        body = {"link_key": link_key, "device_id": device_id, "identity_key": identity_key}
        return await self.request("POST", "/device-links", body, auth=False)

    async def get_link(self, link_id: str) -> JSON:
        return await self.request("GET", f"/device-links/{link_id}", auth=False)

    async def offer_link(self, link_id: str, link_key: str) -> JSON:
        return await self.request("POST", f"/device-links/{link_id}/offer", {"link_key": link_key})

    async def approve_link(self, link_id: str, bundle: str) -> JSON:
        return await self.request("POST", f"/device-links/{link_id}/approve", {"bundle": bundle})

    async def cancel_link(self, link_id: str) -> JSON:
        return await self.request("DELETE", f"/device-links/{link_id}", auth=False)

    async def register_linked_device(self, link_id: str, device: JSON) -> JSON:
        return await self.request("POST", "/devices", {"link_id": link_id, "device": device}, auth=False)

    async def revoke_device(self, device_id: str) -> JSON:
        return await self.request("DELETE", f"/devices/{device_id}")

    async def contacts(self) -> JSON:
        return await self.request("GET", "/contacts")

    # -- authentication ------

    async def auth_challenge(self, device_id: str) -> JSON:
        return await self.request("POST", "/auth/challenge", {"device_id": device_id}, auth=False)

    async def auth_token(self, device_id: str, nonce: str, signature: str) -> JSON:
        return await self.request(
            "POST",
            "/auth/token",
            {"device_id": device_id, "nonce": nonce, "signature": signature},
            auth=False,
        )

    async def logout(self) -> JSON:
        return await self._request_once("DELETE", "/auth/token", None, auth=True, params=None)

    # -- prekeys ------

    async def put_signed_prekey(self, prekey: JSON) -> JSON:
        return await self.request("PUT", "/keys/signed-prekey", prekey)

    async def add_one_time_prekeys(self, prekeys: list[JSON]) -> JSON:
        return await self.request("POST", "/keys/one-time-prekeys", {"prekeys": prekeys})

    async def one_time_prekey_ids(self) -> list[int]:
        return [int(i) for i in (await self.request("GET", "/keys/one-time-prekeys"))["ids"]]

    async def prekey_count(self) -> int:
        return int((await self.request("GET", "/keys/count"))["one_time_prekeys"])

    async def account_bundles(self, account_id: str) -> list[JSON]:
        bundles: list[JSON] = (await self.request("GET", f"/accounts/{account_id}/bundles"))["bundles"]
        return bundles

    async def device_bundle(self, device_id: str) -> JSON:
        return await self.request("GET", f"/devices/{device_id}/bundle")

    # -- consent ------

    async def publish_terms(self, text: str) -> JSON:
        return await self.request("PUT", "/consent/terms", {"text": text})

    async def get_terms(self, therapist_id: str) -> JSON:
        return await self.request("GET", f"/therapists/{therapist_id}/terms")

    async def accept_terms(self, consent: JSON) -> JSON:
        return await self.request("POST", "/consent", consent)

    async def consents(self) -> JSON:
        return await self.request("GET", "/consent")

    # -- messaging (HTTP fallback) ------------------------------------------------------------------------

    async def send(self, send: JSON) -> JSON:
        return await self.request("POST", "/messages", send)

    async def fetch(self, after: int, limit: int | None = None) -> JSON:
        params = {"after": str(after)}
        if limit is not None:
            params["limit"] = str(limit)
        return await self.request("GET", "/messages", params=params)

    async def ack(self, up_to: int) -> JSON:
        return await self.request("POST", "/messages/ack", {"up_to": up_to})

    # -- files (docs/API.md "Files"): raw ciphertext bodies, not JSON --------------------------------------

    async def upload_blob(self, to_account: str, size: int, body: AsyncIterator[bytes]) -> JSON:
        """Stream ``size`` bytes of ciphertext; the body is consumed once, so this never retries itself."""
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        url = f"{self.base_url}{PREFIX}/blobs"
        try:
            async with self._http().post(
                url, params={"to": to_account}, data=body, headers={**headers, **self._auth()}
            ) as resp:
                raw, status = await resp.read(), resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransportError(f"POST /blobs: {exc.__class__.__name__}") from exc
        return _decoded(raw, status)

    async def download_blob(self, blob_id: str, sink: BinaryIO, *, offset: int = 0) -> int:
        """Append the blob's bytes from ``offset`` (a Range request when resuming) to ``sink``; returns the
        number of bytes written. Raises TransportError when the connection drops (resume from there)."""
        headers = self._auth()
        if offset:
            headers["Range"] = f"bytes={offset}-"
        url = f"{self.base_url}{PREFIX}/blobs/{blob_id}"
        written = 0
        timeout = aiohttp.ClientTimeout(total=None, sock_read=self._timeout.total)
        try:
            async with self._http().get(url, headers=headers, timeout=timeout) as resp:
                if resp.status >= 400:
                    _decoded(await resp.read(), resp.status)
                if offset and resp.status != 206:
                    raise ApiError("internal", "the server ignored the Range of a resumed download")
                async for piece in resp.content.iter_chunked(256 * 1024):
                    sink.write(piece)
                    written += len(piece)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransportError(f"GET /blobs: {exc.__class__.__name__} after {written} bytes") from exc
        finally:
            sink.flush()
        return written

    async def confirm_blob_fetched(self, blob_id: str) -> JSON:
        return await self.request("POST", f"/blobs/{blob_id}/fetched")

    async def delete_blob(self, blob_id: str) -> None:
        """Withdraw a blob this account uploaded (a send cancelled after the upload finished)."""
        await self.request("DELETE", f"/blobs/{blob_id}")

    async def blob_usage(self) -> JSON:
        return await self.request("GET", "/blobs/usage")

    def _auth(self) -> dict[str, str]:
        if self.token is None:
            raise ApiError("unauthenticated", "Not logged in.", status=401)
        return {"Authorization": f"Bearer {self.token}"}


def _decoded(raw: bytes, status: int) -> JSON:
    try:
        decoded: Any = json.loads(raw) if raw else {}
    except ValueError:
        decoded = None
    if status >= 400:
        raise ApiError.from_wire(decoded, status)
    if not isinstance(decoded, dict):
        raise ApiError("internal", f"unexpected response body (HTTP {status})", status=status)
    return decoded
