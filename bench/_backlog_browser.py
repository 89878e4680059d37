"""The browser half of bench/backlog.py: a therapist's browser (Debian Chromium) that was closed opens with N
messages queued, next to the raw decrypt rate of the browser's own crypto measured in the same page.

For each N: a therapist joins in the browser, invites ceil(N / 2,500) clients who are Python SDK devices
(one device may send 3,000 a minute), the therapist's tab is closed, the clients queue N messages, then a new
tab of the same profile unlocks. Timed in the page (performance.now() in a MutationObserver, no polling):
- open: the Unlock click; unlocked: the signed-in frame is shown (the passphrase's Argon2id is done);
- connected: the frame says "Online";
- all handed over: the conversation of the first client (opened as soon as its link is listed) shows every one
  of its messages, each other client's unread badge shows exactly what it sent, and every IndexedDB write the
  page had begun by then has committed (the page shows or counts a message only once the write holding it
  has begun): every message shown or counted, and on disk. Acknowledgements follow within 250 ms and are not
  waited for. After the clock stops, once the server holds none of the backlog, a new tab of the same
  profile must show every message again (from IndexedDB alone), or the run fails.
The hand-over rate is N / (all handed over - unlocked): the drain starts at unlock, the Argon2id before it is
fixed cost. The raw rate is ``Session.decrypt`` of web-client/src/crypto in a loop on one chain (same payload
size as the backlog's messages: bench/_raw_decrypt_browser.js, bundled here by Vite), in the same tab, right
before the Unlock click and right after the hand-over (the mean). Main-thread tasks over 50 ms
(PerformanceObserver "longtask") are counted from "connected" to "all handed over", and the main thread's
busy time per message (DevTools Performance.getMetrics, from the click to the end) is shown beside them: on a
shared machine it moves less than wall time.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, CDPSession, Page, async_playwright, expect

from bench._common import REPO, ConfidantServer, Table
from bench._provision import source_host
from client.device import Device
from tests.browser._ui import PASSPHRASE, TERMS, join

__all__ = ["BrowserBacklog", "run"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PER_SENDER = 2500  # under the 3,000-a-minute send limit of one device (server/limits.py)
TEXT = "x" * 100
SDK_PASSPHRASE = "bench passphrase"

# Vite bundles the raw loop (web-client/src/crypto + libsodium, its WebAssembly inlined) into one script that
# page.evaluate runs through DevTools: the page's CSP stays as served.
BUILD = """
import { build } from "vite";
const [entry, outDir] = process.argv.slice(1);
await build({ configFile: false, logLevel: "error", publicDir: false,
  build: { outDir, emptyOutDir: true, minify: true, target: "es2022",
    lib: { entry, formats: ["iife"], name: "__rawDecrypt", fileName: () => "raw.js" } } });
"""

# In the page before the app: timestamps of unlock, "Online" and "all handed over", and every long task.
WATCH = """(cfg) => {
  const b = (window.__bl = { t0: null, unlocked: null, connected: null, shown: null, done: null,
                             failedWrites: 0, tasks: [] });
  new PerformanceObserver((l) => { for (const e of l.getEntries()) b.tasks.push([e.startTime, e.duration]); })
    .observe({ type: "longtask" });
  // Every write transaction the page begins, until it commits (the app shows a message only once the write
  // holding it has begun: app/messenger.js).
  const writes = new Set();
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (stores, mode, ...rest) {
    const t = transaction.call(this, stores, mode, ...rest);
    if (mode === "readwrite") {
      const ended = new Promise((resolve) => {
        for (const what of ["complete", "abort", "error"])
          t.addEventListener(what, () => resolve(what === "complete"));
      });
      writes.add(ended);
      ended.then(() => writes.delete(ended));
    }
    return t;
  };
  const chat = `#/chat/${cfg.open}`;
  const check = () => {
    if (b.t0 === null || b.done !== null) return;
    const now = performance.now();
    if (b.unlocked === null) { if (!document.querySelector(".conn")) return; b.unlocked = now; }
    if (b.connected === null && document.querySelector('.conn[data-state="online"]')) b.connected = now;
    // The first client's conversation is opened as soon as its link is listed (what the person would click).
    const link = document.querySelector(`.client-list a[href="${chat}"]`);
    if (location.hash !== chat && link) location.hash = chat;
    if (b.connected === null) return;
    const shown = document.querySelectorAll(`.chat[data-account="${cfg.open}"] .messages .msg.in`).length;
    if (shown !== cfg.shares[cfg.open]) return;
    for (const [id, n] of Object.entries(cfg.shares)) {
      if (id === cfg.open) continue;
      const badge = document.querySelector(`.client-list a[href="#/chat/${id}"] .badge`);
      if (!badge || Number(badge.textContent) !== n) return;
    }
    if (b.shown !== null) return;
    b.shown = now;
    // Shown; then until every write begun by now has committed, so every message shown or counted is on disk
    // (bench/_backlog_browser.py checks that once more, from IndexedDB alone, after the clock stops).
    Promise.all([...writes]).then((committed) => {
      b.done = performance.now();
      b.failedWrites = committed.filter((ok) => !ok).length;
    });
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true,
                                                  attributes: true, attributeFilter: ["data-state"] });
}"""


async def invite(page: Page, name: str, previous: str) -> str:
    """The therapist's invitation link for a new client (the screen may still show the previous one)."""
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("^Invite")).click()
    await page.get_by_label(re.compile("name$")).fill(name)
    await page.get_by_role("button", name="Create invitation link").click()
    shown = page.get_by_test_id("invite-link")
    await expect(shown).to_contain_text("#/join/")
    if previous:
        await expect(shown).not_to_have_text(previous)
    return (await shown.text_content() or "").strip()


@dataclass
class BrowserBacklog:
    n: int
    senders: int
    queued_s: float
    unlocked_s: float  # open -> unlocked (Argon2id, vault, first screen)
    connected_s: float  # open -> "Online"
    handed_s: float  # open -> all handed over
    raw: float  # raw decrypt/s, mean of before and after
    longest_ms: float  # longest main-thread task between connected and all handed over
    long_tasks: int
    busy: dict[str, float]  # main-thread seconds from the Unlock click to all handed over, by kind

    @property
    def rate(self) -> float:
        return self.n / (self.handed_s - self.unlocked_s)


BUSY = {"TaskDuration": "busy", "ScriptDuration": "script", "LayoutDuration": "layout",
        "RecalcStyleDuration": "style"}


async def main_thread(cdp: CDPSession) -> dict[str, float]:
    """The page's main-thread time so far (DevTools Performance.getMetrics), in seconds, by kind."""
    metrics = (await cdp.send("Performance.getMetrics"))["metrics"]
    return {BUSY[m["name"]]: m["value"] for m in metrics if m["name"] in BUSY}


def bundle_raw_decrypt(out: Path) -> str:
    web = REPO / "web-client"
    entry = REPO / "bench" / "_raw_decrypt_browser.js"
    subprocess.run(["node", "--input-type=module", "-e", BUILD, str(entry), str(out)], cwd=web, check=True)
    return (out / "raw.js").read_text()


async def raw_rate(page: Page, script: str, count: int) -> float:
    if not await page.evaluate("() => typeof __rawDecrypt !== 'undefined'"):
        await page.evaluate(script)
    rate: float = await page.evaluate("(n) => __rawDecrypt.rawDecryptRate(n)", count)
    return rate


def profile_summary(profile: dict[str, Any], top: int = 30) -> str:
    """The functions with the most self time in a DevTools CPU profile (Profiler.stop's result)."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    total_samples = sum(n.get("hitCount", 0) for n in nodes.values()) or 1
    parent = {child: node["id"] for node in nodes.values() for child in node.get("children", [])}

    def label(node: dict[str, Any]) -> str:
        frame = node["callFrame"]
        where = f"{frame['url'].rsplit('/', 1)[-1]}:{frame['lineNumber'] + 1}"
        return f"{frame['functionName'] or '(anonymous)'} {where}"

    self_hits: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    for node in nodes.values():
        hits = node.get("hitCount", 0)
        self_hits[label(node)] = self_hits.get(label(node), 0) + hits
        names, at = set(), node["id"]
        while at is not None:  # each function once per stack (recursion)
            names.add(label(nodes[at]))
            at = parent.get(at)
        for name in names:
            inclusive[name] = inclusive.get(name, 0) + hits

    def block(title: str, table: dict[str, int]) -> str:
        worst = sorted(table.items(), key=lambda kv: -kv[1])[:top]
        return title + "\n" + "\n".join(f"{100 * h / total_samples:5.1f}%  {name}" for name, h in worst)

    return block("self time", self_hits) + "\n" + block("total time", inclusive)


async def stored_locally(context: BrowserContext, server: ConfidantServer, senders: list[str],
                         cfg: dict[str, Any]) -> None:
    """Not timed: once the server holds none of the backlog any more (every envelope acknowledged, which the
    page does only after writing it), a new tab of the same profile shows every message again, so from
    IndexedDB alone. Raises when it does not."""
    # The embedded default's database file, read only (the bench server runs on SQLite).
    (path,) = server.data_dir.glob("*.sqlite3")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        waiting = f"SELECT count(*) FROM mailbox WHERE from_account IN ({','.join('?' * len(senders))})"
        deadline = asyncio.get_running_loop().time() + 60
        while db.execute(waiting, senders).fetchone()[0]:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the backlog was not acknowledged within a minute of being shown")
            await asyncio.sleep(0.1)  # polling the server's database: the clock has stopped
    finally:
        db.close()
    for page in context.pages:
        await page.close()
    page = await context.new_page()
    await page.goto("/")
    await page.get_by_label("Passphrase").fill(PASSPHRASE)
    await page.get_by_role("button", name="Unlock", exact=True).click()
    await expect(page.locator(".conn")).to_be_visible()
    await page.evaluate("(hash) => { location.hash = hash; }", f"#/chat/{cfg['open']}")
    await expect(page.locator(f'.chat[data-account="{cfg["open"]}"] .messages .msg.in')).to_have_count(
        cfg["shares"][cfg["open"]], timeout=120_000)
    for account, n in cfg["shares"].items():
        if account != cfg["open"]:
            await expect(page.locator(f'.client-list a[href="#/chat/{account}"] .badge')).to_have_text(str(n))


async def backlog_run(browser: Browser, server: ConfidantServer, admin: Device, root: Path, n: int,
                      script: str, raw_count: int, first_host: int, profile: Path | None = None
                      ) -> BrowserBacklog:
    context = await browser.new_context(viewport={"width": 1180, "height": 760}, base_url=server.url)
    try:
        page = await context.new_page()
        page.set_default_timeout(60_000)
        await join(page, f"/#/join/{(await admin.invite_therapist())['code']}")
        await expect(page.get_by_role("heading", name="Your clients")).to_be_visible()
        await page.get_by_role("link", name="Terms").click()
        await page.get_by_label("Terms", exact=True).fill(TERMS)
        await page.get_by_role("button", name="Publish terms").click()
        await expect(page.get_by_text("Published version 1")).to_be_visible()
        senders = max(1, math.ceil(n / PER_SENDER))
        clients: list[Device] = []
        link = ""
        for i in range(senders):
            link = await invite(page, f"Client {i:02d}", link)
            client = await Device.register(server.url, link, root / f"n{n}-c{i}.keystore", SDK_PASSPHRASE,
                                           kdf="fast", source_host=source_host(first_host + i))
            therapist_id = next(c.account_id for c in await client.contacts() if c.role == "therapist")
            await client.accept_terms(therapist_id)
            clients.append(client)
        await page.close()  # the therapist is away; the keys stay in this profile's IndexedDB

        loop = asyncio.get_running_loop()
        started = loop.time()
        shares = [n // senders + (1 if i < n % senders else 0) for i in range(senders)]
        for client, count in zip(clients, shares, strict=True):
            for i in range(count):
                client.enqueue(therapist_id, f"{TEXT} {i}")
        await asyncio.gather(*(c.flush(timeout=3600) for c in clients))
        queued = loop.time() - started
        for client in clients:
            await client.close()

        counts = {c.account_id: s for c, s in zip(clients, shares, strict=True)}
        cfg = {"open": clients[0].account_id, "shares": counts}
        await context.add_init_script(f"({WATCH})({json.dumps(cfg)});")
        page = await context.new_page()
        page.set_default_timeout(60_000)
        await page.goto("/")
        await expect(page.get_by_role("heading", name="Unlock Confidant")).to_be_visible()
        raw_before = await raw_rate(page, script, raw_count)
        await page.get_by_label("Passphrase").fill(PASSPHRASE)
        cdp = await context.new_cdp_session(page)
        await cdp.send("Performance.enable")
        busy_before = await main_thread(cdp)
        if profile is not None:
            await cdp.send("Profiler.enable")
            await cdp.send("Profiler.start")
        await page.evaluate("""() => {
          const buttons = [...document.querySelectorAll("button")];
          const button = buttons.find((e) => e.textContent.trim() === "Unlock");
          window.__bl.t0 = performance.now();
          button.click();
        }""")
        await page.wait_for_function("() => window.__bl.done !== null", timeout=3_600_000, polling=250)
        b = await page.evaluate("() => window.__bl")
        if b["failedWrites"]:
            raise AssertionError(f"{b['failedWrites']} IndexedDB writes failed during the drain")
        busy_after = await main_thread(cdp)
        busy = {k: busy_after[k] - busy_before[k] for k in busy_before}
        if profile is not None:
            cpu = (await cdp.send("Profiler.stop"))["profile"]
            (profile / f"backlog-{n}.cpuprofile").write_text(json.dumps(cpu))
            print(f"CPU profile of the page, {n:,}:\n{profile_summary(cpu)}")
        raw_after = await raw_rate(page, script, raw_count)
        await stored_locally(context, server, [c.account_id for c in clients], cfg)
        drain = [d for start, d in b["tasks"] if start + d > b["connected"] and start < b["done"]]
        return BrowserBacklog(
            n=n, senders=senders, queued_s=queued,
            unlocked_s=(b["unlocked"] - b["t0"]) / 1000, connected_s=(b["connected"] - b["t0"]) / 1000,
            handed_s=(b["done"] - b["t0"]) / 1000, raw=(raw_before + raw_after) / 2,
            longest_ms=max(drain, default=0.0), long_tasks=len(drain), busy=busy,
        )
    finally:
        await context.close()


async def run(sizes: list[int], root: Path, profile: Path | None = None, web_root: Path | None = None
              ) -> list[BrowserBacklog]:
    """Build the web client (or serve the build in `web_root`, e.g. another revision's, to compare), and time
    each size in a fresh browser profile; prints one table. With `profile`, a DevTools CPU profile of the page
    per size is written there and summarised."""
    if web_root is None:
        subprocess.run(["sh", "scripts/build-web.sh"], cwd=REPO, check=True)
    script = bundle_raw_decrypt(root / "raw-decrypt")
    dist = web_root or REPO / "web-client" / "dist"
    server = ConfidantServer(root / "web-data", log_path=root / "web-server.log",
                             extra_args=["--web-root", str(dist)], log_level="warning")
    await server.start_async()
    results = []
    try:
        admin = await Device.register(server.url, server.admin_code(), root / "web-admin.keystore",
                                      SDK_PASSPHRASE, kdf="fast", source_host=source_host(900))
        raw_count = 2000 if max(sizes) >= 1000 else 200
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            host = 901
            for n in sizes:
                results.append(await backlog_run(browser, server, admin, root, n, script, raw_count, host,
                                                 profile))
                host += results[-1].senders
            await browser.close()
        await admin.close()
    finally:
        server.stop()
    rows = [[f"{r.n:,}", str(r.senders), f"{r.queued_s:.1f}", f"{r.unlocked_s:.2f}", f"{r.connected_s:.2f}",
             f"{r.handed_s:.1f}", f"{r.rate:,.0f}", f"{r.raw:,.0f}", f"{r.rate / r.raw:.2f}",
             f"{r.longest_ms:.0f} ({r.long_tasks})",
             f"{1000 * r.busy['busy'] / r.n:.2f} ({1000 * r.busy['script'] / r.n:.2f} / "
             f"{1000 * (r.busy['layout'] + r.busy['style']) / r.n:.2f})"] for r in results]
    print("browser (Chromium): open = the Unlock click; handed/s = N / (all handed over - unlocked)")
    print(Table(["backlog", "senders", "queue s", "open->unlocked s", "open->connected s",
                 "open->all handed s", "handed/s", "raw decrypt/s", "handed/raw", "longest task ms (>50 ms)",
                 "main thread ms/msg (script / layout+style)"],
                rows).render())
    return results
