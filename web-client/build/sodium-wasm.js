// Build-time surgery on libsodium-sumo (Emscripten output): its WebAssembly ships inlined as a 380 KB base64
// string that must be downloaded, parsed as JavaScript and decoded before it can be compiled. We cut it out into
// a hashed binary .wasm asset and give the Emscripten factory an `instantiateWasm` hook (a documented Emscripten
// Module option; the wrapper library offers no way to pass Module options, hence the injection) that compiles it
// with WebAssembly.instantiateStreaming, i.e. while it downloads. The patterns are checked: an upgrade of
// libsodium-sumo that changes its shape fails the build instead of silently shipping the inline copy.
import { createHash } from "node:crypto";

const TARGET = /libsodium-sumo[\\/]dist[\\/]modules-sumo-esm[\\/]libsodium-sumo\.mjs$/;
const PROLOGUE = "async function A(A={}){";
const INLINE = /"(AGFzbQ[A-Za-z0-9+/]{100000,}={0,2})"/;

export function sodiumWasm() {
  let command = "build";
  return {
    name: "confidant-sodium-wasm",
    enforce: "pre",
    configResolved(config) {
      command = config.command;
    },
    transform(code, id) {
      if (command !== "build" || !TARGET.test(id)) return null;
      const inline = INLINE.exec(code);
      if (!code.startsWith(PROLOGUE) || !inline || !code.includes("g.instantiateWasm?new Promise"))
        throw new Error("libsodium-sumo changed shape: update web-client/build/sodium-wasm.js");
      const wasm = Buffer.from(inline[1], "base64");
      const fileName = `assets/libsodium-sumo-${createHash("sha256").update(wasm).digest("hex").slice(0, 10)}.wasm`;
      this.emitFile({ type: "asset", fileName, source: wasm });
      // J is the factory's own abort (it rejects the module promise, so sodium.ready rejects with the cause).
      const hook =
        `A.instantiateWasm??=(i,d)=>{const r=fetch(${JSON.stringify("/" + fileName)},{credentials:"same-origin"});` +
        `(WebAssembly.instantiateStreaming?WebAssembly.instantiateStreaming(r,i):r.then(x=>x.arrayBuffer()).then(b=>WebAssembly.instantiate(b,i)))` +
        `.then(o=>d(o.instance,o.module),e=>{try{J(e)}catch{}});return{}};`;
      return {
        code: PROLOGUE + hook + code.slice(PROLOGUE.length, inline.index) + '""' + code.slice(inline.index + inline[0].length),
        map: null,
      };
    },
  };
}
