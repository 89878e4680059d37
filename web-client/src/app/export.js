// Right of access, built on this device: the conversations (decrypted here, never by the server), the signed
// consents and this account's audit entries (from GET /me/export, included whole as `server`), as JSON and as
// a printable HTML page. The JSON follows docs/export.schema.json (tests/browser/test_ending.py validates it).
import { h } from "../lib/dom.js";
import { endedAt } from "./ending.js";

export const ARCHIVE_FORMAT = "confidant-export-v1";

function nameOf(device, id) {
  const name = device.contactName(id);
  if (name !== "Unknown") return name;
  return device.role === "client" ? "Your therapist" : `Client ${id.slice(0, 6)}`;
}

export async function buildArchive(device) {
  const server = await device.api.get("/me/export");
  const ids = new Set([...Object.keys(device.state.contacts || {}), ...Object.keys(device.state.ended || {})]);
  const conversations = [];
  for (const id of ids) {
    const conv = await device.messenger.conversation(id);
    conversations.push({
      with_account_id: id,
      with_name: nameOf(device, id),
      ended_at: endedAt(device, id) || null,
      messages: conv
        .filter((m) => m.dir === "in" || m.dir === "out")
        .map((m) => ({ id: String(m.id), direction: m.dir, body: String(m.body), at: m.at, state: m.state || null })),
    });
  }
  return {
    format: ARCHIVE_FORMAT,
    generated_at: Date.now(),
    account: { account_id: device.me.account_id, device_id: device.me.device_id, role: device.role },
    conversations,
    consents: server.consents,
    audit_entries: server.audit_entries,
    server,
  };
}

const PRINT_CSS = `body{font:15px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d2433}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
.msg{margin:.4rem 0;padding:.4rem .6rem;border-radius:.5rem;background:#f1f3f7}.out{background:#e5efe9}
.meta{font-size:.8rem;color:#555}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
@media print{.msg{break-inside:avoid}}`;

const when = (ms) => (ms ? new Date(ms).toLocaleString() : "—");

const escapeText = (t) => t.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]);

/** The same archive as a self-contained, printable HTML page. The body is built as detached DOM (all text
 * inserted as text, never as markup) and serialised; the style goes in as a string, never into this page. */
export function archiveHtml(a) {
  const body = h(
    "div",
    null,
    h("h1", null, "Your data from Confidant"),
    h("p", null, `Account ${a.account.account_id} (${a.account.role}), exported ${when(a.generated_at)} from this device.`),
    ...a.conversations.flatMap((c) => [
      h("h2", null, `Conversation with ${c.with_name}`),
      c.ended_at ? h("p", null, `Ended ${when(c.ended_at)}.`) : null,
      ...c.messages.map((m) =>
        h("div", { class: ["msg", m.direction] }, h("div", { class: "meta" }, `${m.direction === "out" ? "You" : c.with_name} · ${when(m.at)}`), h("div", null, m.body)),
      ),
    ]),
    h("h2", null, "Signed consents"),
    h("table", null, h("tr", null, h("th", null, "Therapist"), h("th", null, "Version"), h("th", null, "Signed")),
      ...a.consents.map((c) => h("tr", null, h("td", null, c.therapist_id), h("td", null, String(c.version)), h("td", null, when(c.signed_at))))),
    h("h2", null, "Your security log"),
    h("table", null, h("tr", null, h("th", null, "When"), h("th", null, "Event"), h("th", null, "By an administrator")),
      ...a.audit_entries.map((e) => h("tr", null, h("td", null, when(e.at)), h("td", null, e.event), h("td", null, e.by_admin ? "yes" : "no")))),
  );
  const title = `Confidant export ${new Date(a.generated_at).toISOString().slice(0, 10)}`;
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeText(title)}</title><style>${PRINT_CSS}</style></head><body>${body.innerHTML}</body></html>\n`;
}

export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
