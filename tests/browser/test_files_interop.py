"""Files between the browser and the Python SDK, both ways: a therapist in Chromium and a client scripted with
the SDK send each other a document and an image through a real server; each side verifies what it got."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from client.device import Device
from client.file_pointer import FilePointer
from client.files import download_bytes, send_file
from tests.browser._ui import open_chat, shot, therapist_with_terms
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

# An image and its JPEG thumbnail drawn by the browser (the SDK has no image library): base64 of both.
DRAW = """async () => {
  const draw = async (w, h, type) => {
    const c = document.createElement("canvas"); c.width = w; c.height = h;
    const g = c.getContext("2d"); g.fillStyle = "#1f4f4a"; g.fillRect(0, 0, w, h);
    g.fillStyle = "#fdf3dc"; g.fillRect(w / 4, h / 4, w / 2, h / 2);
    const b = await new Promise((r) => c.toBlob(r, type, 0.8));
    const bytes = new Uint8Array(await b.arrayBuffer());
    let s = ""; for (const x of bytes) s += String.fromCharCode(x);
    return btoa(s);
  };
  return [await draw(640, 480, "image/png"), await draw(160, 120, "image/jpeg")];
}"""


async def test_files_between_browser_and_python_sdk(
    browser: Browser, server: ConfidantServer, artifacts: Path, tmp_path: Path
) -> None:
    admin, therapist, link = await therapist_with_terms(browser, server, "Alex (scripted)")
    sdk = await Device.register(
        server.url, link, tmp_path / "sdk.keystore", "sdk passphrase"
    )
    try:
        therapist_id = next(c.account_id for c in await sdk.contacts() if c.role == "therapist")
        await sdk.accept_terms(therapist_id)
        t = therapist.page
        await open_chat(t, "Alex (scripted)")

        # SDK -> browser: a document and an image with a thumbnail.
        letter = b"Dear Dr. Lind,\n" + os.urandom(300_000)
        await send_file(sdk, therapist_id, letter, name="letter-to-my-sister.txt")
        png_b64, jpeg_b64 = await t.evaluate(DRAW)
        png, jpeg = base64.b64decode(png_b64), base64.b64decode(jpeg_b64)
        await send_file(sdk, therapist_id, png, name="drawing.png", thumbnail=jpeg)
        doc_card = t.locator(".file-card").filter(has_text="letter-to-my-sister.txt")
        await expect(doc_card).to_contain_text("TXT · 293 KB")
        async with t.expect_download() as info:
            await doc_card.get_by_role("button", name="Download").click()
        saved = tmp_path / "from-sdk.txt"
        await (await info.value).save_as(saved)
        assert saved.read_bytes() == letter
        img_card = t.locator(".file-card").filter(has_text="drawing.png")
        await expect(img_card.locator(".file-thumb img")).to_be_visible()
        await img_card.get_by_role("button", name="Open image drawing.png").click()
        await t.wait_for_function(
            "() => document.querySelector('dialog.image-viewer img')?.naturalWidth === 640"
        )
        await t.get_by_role("button", name="Close").click()

        # Browser -> SDK: a worksheet and an image; the browser made the thumbnail.
        sheet = tmp_path / "worksheet-week-3.pdf"
        sheet.write_bytes(b"%PDF-1.4\n" + os.urandom(500_000))
        photo = tmp_path / "breathing-diagram.png"
        photo.write_bytes(png)
        await t.get_by_test_id("file-input").set_input_files([str(sheet), str(photo)])
        got = {
            m.body.name: m.body for m in await sdk.receive(2, timeout=30) if isinstance(m.body, FilePointer)
        }
        assert set(got) == {sheet.name, photo.name}
        assert got[sheet.name].content_type == "application/pdf" and got[sheet.name].thumbnail is None
        thumb = got[photo.name].thumbnail
        assert thumb is not None and thumb.startswith(b"\xff\xd8\xff") and len(thumb) <= 16 * 1024
        assert await download_bytes(sdk, got[sheet.name]) == sheet.read_bytes()
        assert await download_bytes(sdk, got[photo.name]) == png
        await shot(t, artifacts, "therapist-files-with-sdk-client")
        assert admin.errors == [] and therapist.errors == []
    finally:
        await sdk.close()
