"""Web client on a phone: first screen, main-thread tasks, repeat visit (real Chromium, DevTools throttling).

    python bench/web.py [--runs N] [--smoke] [--lighthouse PATH/TO/lighthouse]

Conditions (Lighthouse's "slow 4G" mobile profile, applied through the DevTools protocol): 150 ms round trip,
1.6 Mbit/s down, 750 kbit/s up, CPU slowed 4x, a 390x844 viewport. For each of the welcome and join screens,
from a cold cache: first contentful paint, largest contentful paint and the time the screen's heading is
visible ("first screen"), with the build's brotli copies (Chromium asks for br) next to the baseline, the same
build fetched uncompressed (Accept-Encoding: identity, what the server sent before precompression). Then, at
4x CPU: the longest main-thread task (PerformanceObserver "longtask") while joining (keys made, Argon2id) and
while unlocking, and the same task's CPU time from a DevTools trace (thread time: what the task costs at 4x
without the preemption a shared machine adds to the wall-clock figure); then the repeat visit with the
network off (served by the service worker).
With --lighthouse (the npm `lighthouse` CLI, run with CHROME_PATH=/usr/bin/chromium), also Lighthouse's mobile
performance score for welcome and join. Medians of --runs runs. Nothing here is asserted: see docs/WEB.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import Browser, BrowserContext, CDPSession, Page, async_playwright

from bench._common import REPO, ConfidantServer, Table, bench_dir

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SLOW_4G = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1.6e6 / 8 * 0.9,
    "uploadThroughput": 750e3 / 8 * 0.9,
}
PASSPHRASE = "quiet river at dawn"
WATCH = """() => {
  window.__bench = { lcp: 0, longest: 0, over100: 0 };
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__bench.lcp = e.startTime; })
    .observe({ type: "largest-contentful-paint", buffered: true });
  new PerformanceObserver((l) => { for (const e of l.getEntries()) {
    window.__bench.longest = Math.max(window.__bench.longest, e.duration);
    if (e.duration > 100) window.__bench.over100++; } }).observe({ type: "longtask" });
}"""


TRACE_CATEGORIES = ["devtools.timeline", "toplevel", "disabled-by-default-devtools.timeline"]


def longest_task_cpu_ms(trace: bytes) -> float:
    """The most main-thread CPU time one task of the page's renderer took (outermost RunTask, thread time)."""
    doc = json.loads(trace)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"
    }
    tasks = sorted(
        (e for e in events
         if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in main
         and e["name"] in ("RunTask", "ThreadControllerImpl::RunTask")),
        key=lambda e: (e["pid"], e["tid"], e["ts"]),
    )
    longest, end = 0.0, {}
    for e in tasks:
        thread = (e["pid"], e["tid"])
        if e["ts"] < end.get(thread, -1):
            continue  # nested in a task already counted
        end[thread] = e["ts"] + e.get("dur", 0)
        longest = max(longest, e.get("tdur", 0) / 1000)
    return longest


async def throttled(
    browser: Browser, base_url: str, *, identity: bool = False, cpu: float = 4
) -> tuple[BrowserContext, Page, CDPSession]:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, base_url=base_url, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    await cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu})
    if identity:
        await cdp.send("Network.setExtraHTTPHeaders", {"headers": {"Accept-Encoding": "identity"}})
    await page.add_init_script(f"({WATCH})();")
    return context, page, cdp


async def first_screen(
    browser: Browser, url: str, path: str, heading: str, identity: bool
) -> dict[str, float]:
    context, page, _ = await throttled(browser, url, identity=identity)
    await page.goto(path, wait_until="commit")
    await page.get_by_role("heading", name=heading).wait_for(timeout=60_000)
    visible = await page.evaluate("() => performance.now()")
    await page.wait_for_load_state("load")
    await page.wait_for_timeout(300)  # let the LCP observer report (measurement, not synchronisation)
    fcp = await page.evaluate(
        "() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? 0"
    )
    bytes_ = await page.evaluate(
        "() => performance.getEntriesByType('resource').reduce((n, e) => n + e.transferSize, 0)"
        " + performance.getEntriesByType('navigation')[0].transferSize"
    )
    lcp = await page.evaluate("() => window.__bench.lcp")
    await context.close()
    return {"fcp": fcp, "lcp": lcp, "visible": visible, "kb": bytes_ / 1024}


async def tasks_join_unlock(browser: Browser, server: ConfidantServer) -> dict[str, float]:
    context, page, cdp = await throttled(browser, server.url)
    await page.goto(f"/#/join/{server.admin_code()}")
    await page.get_by_role("heading", name="You have been invited to Confidant").wait_for(timeout=60_000)
    # Typed at a person's pace (80 ms a key): libsodium and the first prekeys are made meanwhile, and any
    # task that would make typing stutter counts too.
    await page.evaluate("() => { window.__bench.longest = 0; window.__bench.over100 = 0; }")
    await page.get_by_label("Passphrase", exact=True).press_sequentially(PASSPHRASE, delay=80)
    await page.get_by_label("Repeat the passphrase").press_sequentially(PASSPHRASE, delay=80)
    browser = context.browser
    assert browser is not None
    await browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    t0 = time.perf_counter()
    await page.get_by_role("button", name="Create my secure space").click()
    # Account made: its recovery key is shown once (timed as part of joining), then the dashboard.
    await page.get_by_role("heading", name="Your recovery key").wait_for(timeout=120_000)
    await page.get_by_test_id("recovery-key").wait_for(timeout=120_000)
    join = {"join_s": time.perf_counter() - t0, **await page.evaluate("() => window.__bench")}
    join_cpu = longest_task_cpu_ms(await browser.stop_tracing())
    await page.get_by_role("button", name="I have saved it").click()
    await page.get_by_role("heading", name="Relay health").wait_for(timeout=120_000)
    await page.reload()
    await page.get_by_role("heading", name="Unlock Confidant").wait_for(timeout=60_000)
    await page.wait_for_load_state("networkidle")
    await page.evaluate("() => { window.__bench.longest = 0; window.__bench.over100 = 0; }")
    await page.get_by_label("Passphrase").press_sequentially(PASSPHRASE, delay=80)
    await browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    t0 = time.perf_counter()
    await page.get_by_role("button", name="Unlock").click()
    await page.get_by_role("heading", name="Relay health").wait_for(timeout=120_000)
    unlock = {"unlock_s": time.perf_counter() - t0, **await page.evaluate("() => window.__bench")}
    unlock_cpu = longest_task_cpu_ms(await browser.stop_tracing())
    # Repeat visit, network off: the service worker serves the pinned release.
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=60_000)
    await cdp.send("Network.emulateNetworkConditions", {**SLOW_4G, "offline": True})
    await context.set_offline(True)
    t0 = time.perf_counter()
    await page.reload()
    await page.get_by_role("heading", name="Unlock Confidant").wait_for(timeout=60_000)
    offline = time.perf_counter() - t0
    await context.close()
    return {
        "join_s": join["join_s"],
        "join_longest": join["longest"],
        "join_over100": join["over100"],
        "join_longest_cpu": join_cpu,
        "unlock_s": unlock["unlock_s"],
        "unlock_longest": unlock["longest"],
        "unlock_over100": unlock["over100"],
        "unlock_longest_cpu": unlock_cpu,
        "offline_repeat_s": offline,
    }


def lighthouse(cli: str, url: str) -> float | None:
    out = subprocess.run(
        [
            cli,
            url,
            "--only-categories=performance",
            "--form-factor=mobile",
            "--output=json",
            "--quiet",
            "--chrome-flags=--headless --no-sandbox --disable-gpu",
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if out.returncode != 0:
        print(f"lighthouse failed on {url}: {out.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    score: float = json.loads(out.stdout)["categories"]["performance"]["score"]
    return score


async def run(runs: int, lighthouse_cli: str | None) -> None:
    subprocess.run(["sh", "scripts/build-web.sh"], cwd=REPO, check=True)
    dist = REPO / "web-client" / "dist"
    out = bench_dir("web-")
    server = ConfidantServer(out / "data", extra_args=["--web-root", str(dist)], log_level="warning")
    await server.start_async()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            table = Table(["screen", "delivery", "FCP ms", "LCP ms", "first screen ms", "KB transferred"], [])
            for path, name, heading in (
                ("/", "welcome", "Welcome to Confidant"),
                # A real, unused invitation: the join page checks it (POST /invitations/check) before it shows
                # the form, as an invitee sees it. It is redeemed only later, by tasks_join_unlock.
                (f"/#/join/{server.admin_code()}", "join", "You have been invited to Confidant"),
            ):
                for identity in (False, True):
                    samples = [
                        await first_screen(browser, server.url, path, heading, identity) for _ in range(runs)
                    ]
                    med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
                    table.rows.append(
                        [
                            name,
                            "uncompressed (baseline)" if identity else "brotli (this build)",
                            f"{med['fcp']:.0f}",
                            f"{med['lcp']:.0f}",
                            f"{med['visible']:.0f}",
                            f"{med['kb']:.0f}",
                        ]
                    )
            print("First screen, cold cache, slow 4G + 4x CPU (median of", runs, "runs)")
            print(table.render())
            t = await tasks_join_unlock(browser, server)
            print("\nMain thread at 4x CPU (slow 4G)")
            print(
                f"  join:   {t['join_s']:.2f} s, longest task {t['join_longest']:.0f} ms "
                f"(CPU {t['join_longest_cpu']:.0f} ms), tasks over 100 ms: {t['join_over100']}"
            )
            print(
                f"  unlock: {t['unlock_s']:.2f} s, longest task {t['unlock_longest']:.0f} ms "
                f"(CPU {t['unlock_longest_cpu']:.0f} ms), tasks over 100 ms: {t['unlock_over100']}"
            )
            print(
                f"  repeat visit, network off (service worker): {t['offline_repeat_s']:.2f} s"
            )
            await browser.close()
        if lighthouse_cli:
            for path, name in (("/", "welcome"), ("/#/join/not-a-real-code", "join")):
                scores = [lighthouse(lighthouse_cli, server.url + path) for _ in range(runs)]
                got = [s for s in scores if s is not None]
                print(
                    f"Lighthouse mobile performance, {name}: "
                    f"{statistics.median(got):.2f} (runs: {', '.join(f'{s:.2f}' for s in got)})"
                    if got
                    else f"Lighthouse did not run on {name}"
                )
    finally:
        server.stop()
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one run, no Lighthouse")
    parser.add_argument("--lighthouse", help="path of the npm lighthouse CLI (12.x on Node 20)")
    args = parser.parse_args(argv)
    asyncio.run(run(1 if args.smoke else args.runs, None if args.smoke else args.lighthouse))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
