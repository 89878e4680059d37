// The passphrase KDF (Argon2id) run in a Web Worker (kdf-worker.js) when the platform has one; in Node (the
// vector tests) it runs inline. Same bytes either way: the worker calls the same primitives.argon2id.
import * as p from "./primitives.js";
import { CryptoError } from "./errors.js";

/** The derivation could not run (the worker failed to start or crashed): not a wrong passphrase. */
export class KdfFailed extends CryptoError {}

/** Argon2id(passphrase bytes, salt, opslimit, memlimit) -> 32-byte key, without blocking the caller's thread. */
export async function argon2idOffThread(passphrase, salt, opslimit, memlimit) {
  if (typeof Worker === "undefined") {
    await p.ready();
    return p.argon2id(passphrase, salt, opslimit, memlimit);
  }
  const worker = new Worker(new URL("./kdf-worker.js", import.meta.url), { type: "module", name: "confidant-kdf" });
  try {
    return await new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => (data.error ? reject(new KdfFailed(data.error)) : resolve(new Uint8Array(data.key)));
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new KdfFailed(`Your passphrase could not be checked in this browser (${e.message || "the key derivation worker did not start"}).`));
      };
      // A copy is transferred so the caller's buffer stays the caller's to wipe.
      const copy = passphrase.slice();
      worker.postMessage({ passphrase: copy, salt, opslimit, memlimit }, [copy.buffer]);
    });
  } finally {
    worker.terminate();
  }
}
