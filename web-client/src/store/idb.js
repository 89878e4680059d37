// Minimal promise wrapper over IndexedDB. One database per browser profile; records are opaque
// (secrets are encrypted by vault.js before they get here).

const DB_NAME = "confidant";
const DB_VERSION = 1;
export const STORES = ["meta", "records"];

let dbPromise = null;

function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        for (const s of STORES) if (!req.result.objectStoreNames.contains(s)) req.result.createObjectStore(s);
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

function tx(store, mode, fn) {
  return open().then(
    (db) =>
      new Promise((resolve, reject) => {
        const t = db.transaction(store, mode);
        const s = t.objectStore(store);
        let result;
        Promise.resolve(fn(s)).then((r) => (result = r));
        t.oncomplete = () => resolve(result);
        t.onerror = () => reject(t.error);
        t.onabort = () => reject(t.error);
      }),
  );
}

const wrap = (req) =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });

export const idbGet = (store, key) => tx(store, "readonly", (s) => wrap(s.get(key)));
export const idbPut = (store, key, value) => tx(store, "readwrite", (s) => void s.put(value, key));
export const idbDel = (store, key) => tx(store, "readwrite", (s) => void s.delete(key));
export const idbClear = (store) => tx(store, "readwrite", (s) => void s.clear());

/** Several puts and deletes in ONE transaction: all of them are stored, or none. */
export const idbWrite = (store, puts, dels = []) =>
  tx(store, "readwrite", (s) => {
    for (const [key, value] of puts) s.put(value, key);
    for (const key of dels) s.delete(key);
  });

export async function idbEntries(store, prefix) {
  const range = prefix ? IDBKeyRange.bound(prefix, prefix + "\uffff") : undefined;
  return tx(store, "readonly", async (s) => {
    const [keys, values] = await Promise.all([wrap(s.getAllKeys(range)), wrap(s.getAll(range))]);
    return keys.map((k, i) => [k, values[i]]);
  });
}
