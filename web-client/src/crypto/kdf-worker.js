// Web Worker: Argon2id (64 MiB, 3 passes: about 0.5 s on a desktop, 2 s on a slow phone) off the main thread,
// so the page keeps painting and answering input while a passphrase is checked. One request per worker; the
// caller terminates it afterwards, which also frees the 64 MiB the derivation used.
import { ready, argon2id } from "./primitives.js";

self.onmessage = async (event) => {
  const { passphrase, salt, opslimit, memlimit } = event.data;
  try {
    await ready();
    const key = argon2id(passphrase, salt, opslimit, memlimit);
    passphrase.fill(0);
    self.postMessage({ key }, [key.buffer]);
  } catch (e) {
    self.postMessage({ error: (e && e.message) || String(e) });
  }
};
