// Confidant's service worker: the pinned release (docs/WEB.md, "Pinned code").
// - It serves the app's files only from the release it pinned: each body was checked against the sha256 in that
//   release's manifest (/release.json) when it was stored. The server is never asked for them again.
// - On first use it pins the release key named in the manifest, after checking the manifest's signature
//   (/release.sig) under it. Nothing can protect that very first load.
// - On each page load it asks the server for the current manifest. A different one is taken only if it is
//   signed by the pinned key and every file matches its hash; the page then says "Confidant was updated".
//   Anything else is refused: the pinned release keeps running and the page shows a warning.
// This file is deliberately free of build-time content, so its bytes stay the same from one release to the next.
"use strict";

const DB_NAME = "confidant-release";
const PASS_THROUGH = [/^\/api\//, /^\/socket\.io\//, /^\/(healthz|readyz|metrics)$/];

class Refused extends Error {}

// ---- pinned state (IndexedDB, one record) ----------------------------------------------------------------
// {releaseKey, manifest (the exact text), version, builtAt, cache, previousCache, notice, refused}

function db() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore("pin");
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function idb(mode, fn) {
  const d = await db();
  try {
    return await new Promise((resolve, reject) => {
      const tx = d.transaction("pin", mode);
      const req = fn(tx.objectStore("pin"));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    d.close();
  }
}

let pinned = null; // in-memory copy; the worker may be stopped and restarted at any time
async function loadPin() {
  if (!pinned) pinned = (await idb("readonly", (s) => s.get("current"))) || null;
  return pinned;
}

async function savePin(pin) {
  await idb("readwrite", (s) => s.put(pin, "current"));
  pinned = pin;
}

// ---- manifests, signatures, files ------------------------------------------------------------------------

const fromB64 = (s) => Uint8Array.from(atob(s.trim()), (c) => c.charCodeAt(0));
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

async function fetchRelease() {
  const [m, s] = await Promise.all([fetch("/release.json", { cache: "no-store" }), fetch("/release.sig", { cache: "no-store" })]);
  if (!m.ok) throw new Error(`no release manifest (${m.status})`);
  const bytes = new Uint8Array(await m.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  let manifest;
  try {
    manifest = JSON.parse(text);
  } catch {
    throw new Refused("its manifest is not valid JSON");
  }
  if (!manifest || typeof manifest.files !== "object" || typeof manifest.release_key !== "string")
    throw new Refused("its manifest is malformed");
  return { bytes, text, manifest, signature: s.ok ? (await s.text()).trim() : "" };
}

async function verifySignature(keyB64, bytes, signatureB64) {
  let ok = false;
  try {
    const key = await crypto.subtle.importKey("raw", fromB64(keyB64), { name: "Ed25519" }, false, ["verify"]);
    ok = await crypto.subtle.verify({ name: "Ed25519" }, key, fromB64(signatureB64), bytes);
  } catch {
    ok = false;
  }
  if (!ok) throw new Refused("its manifest is not signed by this deployment's release key");
}

/** Fetch every file of `manifest`, check each against its hash, store them in a new cache; its name. */
async function fillCache(manifest, text) {
  const name = `release-${hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))).slice(0, 16)}`;
  const cache = await caches.open(name);
  try {
    await Promise.all(
      Object.entries(manifest.files).map(async ([path, want]) => {
        const res = await fetch(path, { cache: "no-cache" });
        if (!res.ok) throw new Error(`${path}: ${res.status}`);
        const body = await res.arrayBuffer();
        if (hex(await crypto.subtle.digest("SHA-256", body)) !== want) throw new Refused(`${path} does not match its signed hash`);
        // The body is stored decoded: drop the transfer headers that described the encoded copy.
        const headers = new Headers(res.headers);
        for (const h of ["content-encoding", "content-length", "vary", "etag", "last-modified"]) headers.delete(h);
        await cache.put(path, new Response(body, { status: 200, headers }));
      }),
    );
  } catch (e) {
    await caches.delete(name);
    throw e;
  }
  return name;
}

// ---- lifecycle -----------------------------------------------------------------------------------------

async function install() {
  // A pin survives a new copy of this script; updates of the app go through checkForUpdate.
  if (await loadPin()) return self.skipWaiting();
  const rel = await fetchRelease();
  await verifySignature(rel.manifest.release_key, rel.bytes, rel.signature); // trust on first use
  const cache = await fillCache(rel.manifest, rel.text);
  await savePin({
    releaseKey: rel.manifest.release_key,
    manifest: rel.text,
    version: rel.manifest.version,
    builtAt: rel.manifest.built_at,
    cache,
    previousCache: null,
    notice: null,
    refused: null,
  });
  return self.skipWaiting();
}

self.addEventListener("install", (event) => event.waitUntil(install()));
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

async function broadcast(message) {
  for (const client of await self.clients.matchAll({ type: "window" })) client.postMessage(message);
}

// Which release each open page was served (lost if the worker restarts; then a page just learns of an update
// on its next load).
const servedVersion = new Map();

function status(pin, clientId) {
  if (!pin) return { type: "status", pinned: false };
  const notice = pin.notice && pin.notice.client === clientId ? { version: pin.notice.version, builtAt: pin.notice.builtAt } : null;
  const running = servedVersion.get(clientId);
  const pending = running && running !== pin.version ? { version: pin.version, builtAt: pin.builtAt } : null;
  return { type: "status", pinned: true, version: pin.version, builtAt: pin.builtAt, notice, pending, refused: pin.refused };
}

let checking = null;
function checkForUpdate() {
  if (!checking) checking = check().finally(() => (checking = null));
  return checking;
}

async function check() {
  const pin = await loadPin();
  if (!pin) return;
  let rel;
  try {
    rel = await fetchRelease();
  } catch (e) {
    if (!(e instanceof Refused)) return; // offline or the server is down: keep the pin, nothing to say
    return refuse(pin, e);
  }
  if (rel.text === pin.manifest) {
    if (pin.refused) await savePin({ ...pin, refused: null });
    return;
  }
  try {
    if (rel.manifest.release_key !== pin.releaseKey) throw new Refused("its manifest names a different release key");
    await verifySignature(pin.releaseKey, rel.bytes, rel.signature);
    const cache = await fillCache(rel.manifest, rel.text);
    if (pin.previousCache && pin.previousCache !== cache) await caches.delete(pin.previousCache);
    const notice = { version: rel.manifest.version, builtAt: rel.manifest.built_at };
    // The previous release's files stay available for pages that are still running it (lazy chunks).
    await savePin({ ...pin, manifest: rel.text, ...notice, cache, previousCache: pin.cache, notice, refused: null });
    await broadcast({ type: "updated", ...notice });
    const open = new Set((await self.clients.matchAll({ type: "window" })).map((c) => c.id));
    for (const id of servedVersion.keys()) if (!open.has(id)) servedVersion.delete(id);
  } catch (e) {
    if (!(e instanceof Refused)) return; // a transfer failed: try again on the next load
    await refuse(pin, e);
  }
}

async function refuse(pin, error) {
  const refused = { at: Date.now(), reason: error.message };
  await savePin({ ...pin, refused });
  await broadcast({ type: "refused", reason: refused.reason, version: pin.version, builtAt: pin.builtAt });
}

// ---- serving ---------------------------------------------------------------------------------------------

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin || PASS_THROUGH.some((r) => r.test(url.pathname))) return;
  event.respondWith(serve(req, url, event));
});

async function serve(req, url, event) {
  const pin = await loadPin();
  if (!pin) return fetch(req);
  let path = url.pathname === "/" ? "/index.html" : url.pathname;
  if (req.mode === "navigate") {
    path = "/index.html"; // the app is one page with a hash router
    // "Confidant was updated" belongs to the first page that runs the new release.
    if (pin.notice && !pin.notice.client && event.resultingClientId)
      await savePin({ ...pin, notice: { ...pin.notice, client: event.resultingClientId } });
    if (event.resultingClientId) servedVersion.set(event.resultingClientId, pin.version);
    event.waitUntil(checkForUpdate());
  }
  for (const name of [pin.cache, pin.previousCache]) {
    if (!name) continue;
    const hit = await caches.match(path, { cacheName: name });
    if (hit) return hit;
  }
  // Not a file of the pinned release (the manifest, the signature, this script): straight to the server.
  if (!(path in JSON.parse(pin.manifest).files)) return fetch(req);
  return new Response("This file of the pinned release is missing from the cache.", { status: 503 });
}

self.addEventListener("message", (event) => {
  const kind = event.data && event.data.type;
  const reply = (pin) => event.source.postMessage(status(pin, event.source.id));
  if (kind === "status") event.waitUntil(loadPin().then(reply));
  else if (kind === "check") event.waitUntil(checkForUpdate().then(loadPin).then(reply));
});
