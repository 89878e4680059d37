// The administrator's records custodian card (docs/OPERATIONS.md "Records custodian", docs/API.md): turn the
// practice's custodian on with the public key `confidant custodian keygen` printed, replace it, or turn it
// off. The private key never comes here: it stays on the machine that keeps it offline.
import { h, announce, formatDateTime } from "../lib/dom.js";
import { fromB64, toB64 } from "../lib/bytes.js";
import { custodianFingerprint, decodePublicKey } from "../crypto/custodian.js";

export function custodianCard(api, confirmButton) {
  const status = h("p", { role: "status", "data-testid": "custodian-status" }, "Reading the custodian setting…");
  const result = h("p", { class: "small", role: "status", "data-testid": "custodian-result" });
  const input = h("input", { type: "text", id: "custodian-key", autocomplete: "off", spellcheck: "false", placeholder: "confidant-custodian-v1:…", "aria-describedby": "custodian-help" });
  const turnOn = h("button", { type: "button", class: "primary" }, "Turn on with this key");
  const off = confirmButton("Turn off", "secondary", () => turnOff());

  const say = (text, bad = false) => {
    result.textContent = text;
    result.classList.toggle("bad", bad);
    announce(text);
  };
  const show = (r) => {
    if (!r.enabled) {
      status.textContent = "Off: notes are encrypted only to their therapist.";
      turnOn.textContent = "Turn on with this key";
      off.hidden = true;
      return;
    }
    status.textContent = `On since ${formatDateTime(r.set_at)} · key fingerprint ${custodianFingerprint(fromB64(r.public_key))}`;
    turnOn.textContent = "Replace the key";
    off.hidden = false;
  };

  async function refresh() {
    try {
      show(await api.get("/custodian"));
    } catch (e) {
      status.textContent = `Cannot read the custodian setting: ${e.message}`;
    }
  }

  turnOn.addEventListener("click", async () => {
    let key;
    try {
      key = decodePublicKey(input.value);
    } catch {
      say("Paste the whole public key line that `confidant custodian keygen` printed (it starts with confidant-custodian-v1:).", true);
      return;
    }
    try {
      const r = await api.put("/admin/custodian", { public_key: toB64(key) });
      show(r);
      input.value = "";
      say(`Records custodian on. Tell your therapists the fingerprint ${custodianFingerprint(key)}: it appears in the terms they publish.`);
    } catch (e) {
      say(e.message, true);
    }
  });

  async function turnOff() {
    try {
      show(await api.post("/admin/custodian/off"));
      say("Records custodian off. Copies already stored stay until you purge them.");
    } catch (e) {
      say(e.message, true);
    }
  }

  refresh();
  return h(
    "section",
    { class: "card", "aria-labelledby": "custodian-h" },
    h("h2", { id: "custodian-h" }, "Records custodian"),
    h("p", { class: "muted small", id: "custodian-help" }, "Off by default. When on, a therapist who discloses this key in their confidentiality terms also encrypts their notes to it, for clients who accepted those terms, so the practice can keep a departed therapist's notes for its legal duty. Only the private key, kept offline, opens them (confidant custodian open)."),
    status,
    h("div", { class: "field" }, h("label", { for: "custodian-key" }, "Custodian public key"), input),
    h("div", { class: "row" }, turnOn, off),
    result,
  );
}
