// The release manifest and its signature (docs/WEB.md, "Pinned code").
//   dist/release.json  {"app", "version", "built_at", "release_key", "files": {"/path": "sha256 hex", ...}}
//   dist/release.sig   base64 Ed25519 signature of release.json's exact bytes, by the key named in release_key
// The service worker pins the key on first use and takes a later release only if its manifest verifies under it.
// The key file holds the 32-byte Ed25519 seed in base64 on one line; keep it off the serving machine.
//   node build/release.js keygen FILE        a new release key (refuses to overwrite)
//   node build/release.js sign DIST FILE     sign DIST/release.json (run at build time, where the key lives)
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

// Not part of the pinned set: the manifest and signature themselves, the encoded copies (the service worker
// checks decoded bodies), the worker script (the browser fetches it itself), the build stamp.
const UNPINNED = /(^|\/)(release\.json|release\.sig|sw\.js|\.build-stamp)$|\.(br|gz)$/;
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

function* walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

export function releaseFiles(dist) {
  const files = {};
  for (const path of walk(dist)) {
    const name = "/" + relative(dist, path).split(sep).join("/");
    if (!UNPINNED.test(name)) files[name] = createHash("sha256").update(readFileSync(path)).digest("hex");
  }
  return files;
}

function privateKey(keyFile) {
  const seed = Buffer.from(readFileSync(keyFile, "utf8").trim(), "base64");
  if (seed.length !== 32) throw new Error(`${keyFile}: expected a base64 32-byte Ed25519 seed`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
}

export function publicKeyB64(keyFile) {
  const jwk = createPublicKey(privateKey(keyFile)).export({ format: "jwk" });
  return Buffer.from(jwk.x, "base64url").toString("base64");
}

/** Write release.json for `dist` naming `keyFile`'s public key, and release.sig with that key. */
export function signRelease(dist, keyFile, { version, builtAt }) {
  const manifest = { app: "confidant-web", version, built_at: builtAt, release_key: publicKeyB64(keyFile), files: releaseFiles(dist) };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 1) + "\n");
  writeFileSync(join(dist, "release.json"), bytes);
  writeFileSync(join(dist, "release.sig"), sign(null, bytes, privateKey(keyFile)).toString("base64") + "\n");
  return manifest;
}

export function keygen(keyFile) {
  if (existsSync(keyFile)) throw new Error(`${keyFile} exists; not overwriting a release key`);
  writeFileSync(keyFile, randomBytes(32).toString("base64") + "\n", { mode: 0o600 });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [command, a, b] = process.argv.slice(2);
  if (command === "keygen" && a) keygen(a);
  else if (command === "sign" && a && b) {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    const epoch = process.env.SOURCE_DATE_EPOCH;
    const m = signRelease(a, b, {
      version: process.env.CONFIDANT_RELEASE_VERSION || pkg.version,
      builtAt: (epoch ? new Date(Number(epoch) * 1000) : new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    });
    console.log(`signed release ${m.version} (${Object.keys(m.files).length} files) with release key ${m.release_key}`);
  } else {
    console.error("usage: node build/release.js keygen FILE | sign DIST FILE");
    process.exit(2);
  }
}
