// The administrator dashboard (docs/API.md "Administration"). The router loads this module for `#/admin` and
// calls mount(container, device); the returned function stops the polling.
//
// What an administrator sees is aggregates only: rates, latency percentiles, backlog, connection and error
// counts, dependency status, staff accounts (admins and therapists) and audit-log counts. The server sends
// nothing else, and this module never asks for contacts or messages. The "Name" column is the administrator's
// own name for each therapist, typed at invitation time and read from the administrator's own vault on this
// device (app/names.js): never anything a therapist or a client wrote, and never sent to the server in clear.
import "./admin.css";
import { h, replace, announce } from "../lib/dom.js";
import { sparkline } from "./charts.js";
import { practiceCard } from "./practice.js";
import { Series, clockTime, formatNumber, formatSeconds, isoDay, latencyWindow, rate } from "./stats.js";
import { custodianCard } from "./custodian.js";
import { recoveryKeySection } from "../views/recoverykey.js";

const POLL_MS = 3000; // live figures
const SLOW_POLL_MS = 10000; // population and staff: they change rarely (and when connections change)
const HISTORY = 60; // points per sparkline: three minutes at POLL_MS
const HEX32 = /^[0-9a-f]{32}$/;

const TILES = [
  { key: "throughput", title: "Throughput", unit: "envelopes/s", format: (v) => formatNumber(v, 1) },
  { key: "latency", title: "Delivery latency (p95)", unit: "send → device", format: formatSeconds },
  { key: "backlog", title: "Mailbox backlog", unit: "envelopes waiting", format: (v) => formatNumber(v) },
  { key: "connections", title: "Connected devices", unit: "this node", format: (v) => formatNumber(v) },
  { key: "errors", title: "Errors", unit: "server errors + refused sends /s", format: (v) => formatNumber(v, 2) },
  { key: "sessions", title: "Video sessions", unit: "in progress", format: (v) => formatNumber(v) },
];

export function mount(container, device) {
  const api = device.api;
  let stopped = false;
  let timer = null;
  let slowTimer = null;
  let prev = null;

  // ---- live tiles --------------------------------------------------------------------------------------
  const tiles = {};
  const tileNodes = TILES.map((t) => {
    const value = h("span", { class: "tile-value", "data-testid": `metric-${t.key}` }, "–");
    const detail = h("span", { class: "tile-detail", "data-testid": `detail-${t.key}` }, t.unit);
    const chart = sparkline(`${t.title}, last ${Math.round((HISTORY * POLL_MS) / 60000)} minutes`);
    tiles[t.key] = { ...t, value, detail, chart, series: new Series(HISTORY) };
    return h("section", { class: "tile", "aria-label": t.title }, h("h2", { class: "tile-title" }, t.title), value, detail, chart.node);
  });

  const deps = h("ul", { class: "deps", "aria-label": "Dependencies" });
  const updated = h("p", { class: "muted small", role: "status", "data-testid": "updated" }, "Connecting to the relay…");
  const problem = h("p", { class: "admin-error", role: "alert", hidden: true });

  // ---- population, staff, moderation, audit ------------------------------------------------------------
  const population = h("dl", { class: "population", "data-testid": "population" });
  const staffBody = h("tbody");
  const staffTable = h(
    "table",
    { class: "staff", "aria-label": "Staff accounts" },
    h("thead", null, h("tr", null, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Account"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Devices"), h("th", { scope: "col" }, "Since"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Action")))),
    staffBody,
  );
  // A data table keeps its columns on a phone (WCAG 1.4.10 allows two-dimensional scrolling for data tables):
  // it scrolls inside its own focusable region, so the page itself never scrolls sideways.
  const staffScroll = h("div", { class: "table-scroll", role: "region", "aria-labelledby": "staff-h", tabindex: "0" }, staffTable);
  const auditCounts = h("dl", { class: "population", "data-testid": "audit-counts" });
  const auditResult = h("p", { class: "small", role: "status", "data-testid": "audit-result" });
  const moderationResult = h("p", { class: "small", role: "status", "data-testid": "moderation-result" });

  const say = (node, text, bad = false) => {
    node.textContent = text;
    node.classList.toggle("bad", bad);
    announce(text);
  };

  async function setDisabled(accountId, disabled) {
    try {
      await api.post(`/admin/accounts/${accountId}/${disabled ? "disable" : "enable"}`);
      say(moderationResult, `Account ${short(accountId)} ${disabled ? "disabled: its connections were closed" : "enabled"}.`);
      refreshSlow();
    } catch (e) {
      say(moderationResult, e.message, true);
    }
  }

  async function eraseAccount(accountId) {
    try {
      await api.del(`/admin/accounts/${accountId}`);
      say(moderationResult, `Account ${short(accountId)} erased: the server no longer holds anything of it.`);
      refreshSlow();
    } catch (e) {
      say(moderationResult, e.message, true);
    }
  }

  async function revokeDevice(deviceId) {
    try {
      await api.del(`/admin/devices/${deviceId}`);
      say(moderationResult, `Device ${short(deviceId)} revoked: it is signed out and its mailbox deleted.`);
      refreshSlow();
    } catch (e) {
      say(moderationResult, e.message, true);
    }
  }

  const accountInput = h("input", { type: "text", id: "mod-account", inputmode: "latin", autocomplete: "off", spellcheck: "false", pattern: "[0-9a-f]{32}" });
  const deviceInput = h("input", { type: "text", id: "mod-device", inputmode: "latin", autocomplete: "off", spellcheck: "false", pattern: "[0-9a-f]{32}" });
  const idFrom = (input) => {
    const id = input.value.trim().toLowerCase();
    if (!HEX32.test(id)) {
      say(moderationResult, "Paste the 32-character id the person or their therapist gave you.", true);
      return null;
    }
    return id;
  };
  const moderation = h(
    "form",
    { class: "moderation", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "field" }, h("label", { for: "mod-account" }, "Account id"), accountInput),
    h(
      "div",
      { class: "row" },
      confirmButton("Disable account", "danger", () => { const id = idFrom(accountInput); if (id) setDisabled(id, true); }),
      h("button", { type: "button", class: "secondary", onclick: () => { const id = idFrom(accountInput); if (id) setDisabled(id, false); } }, "Enable account"),
      confirmButton("Erase account", "danger", () => { const id = idFrom(accountInput); if (id) eraseAccount(id); }),
    ),
    h("div", { class: "field" }, h("label", { for: "mod-device" }, "Device id"), deviceInput),
    h("div", { class: "row" }, confirmButton("Revoke device", "danger", () => { const id = idFrom(deviceInput); if (id) revokeDevice(id); })),
    moderationResult,
  );

  async function verifyAudit() {
    say(auditResult, "Verifying the audit chain…");
    try {
      const r = await api.get("/admin/audit/verify");
      if (r.ok) say(auditResult, `Audit chain intact: ${r.entries} entries, head ${r.head_hash.slice(0, 16)}…`);
      else say(auditResult, `Audit chain BROKEN at entry ${r.broken_at} (${r.reason}).`, true);
    } catch (e) {
      say(auditResult, e.message, true);
    }
  }

  const page = h(
    "div",
    { class: "admin" },
    h("div", { class: "admin-head" }, h("h1", null, "Relay health"), updated),
    problem,
    h("p", { class: "muted small" }, "Aggregates only. Message content and who talks to whom are not visible here, by design; the names of therapists are the ones you typed, kept encrypted on your devices."),
    deps,
    h("div", { class: "tiles" }, tileNodes),
    h(
      "div",
      { class: "admin-columns" },
      h("section", { class: "card", "aria-labelledby": "pop-h" }, h("h2", { id: "pop-h" }, "Accounts"), population, h("p", { class: "small" }, h("a", { href: "#/invite" }, "Invite a therapist"))),
      h("section", { class: "card", "aria-labelledby": "audit-h" }, h("h2", { id: "audit-h" }, "Audit log"), auditCounts, h("button", { type: "button", class: "secondary", onclick: verifyAudit }, "Verify chain"), auditResult),
    ),
    h("section", { class: "card", "aria-labelledby": "staff-h" }, h("h2", { id: "staff-h" }, "Therapists and administrators"), staffScroll),
    practiceCard(api),
    h("section", { class: "card", "aria-labelledby": "mod-h" }, h("h2", { id: "mod-h" }, "Disable an account or revoke a device"), h("p", { class: "muted small" }, "Client accounts are never listed. Ask the person (or their therapist) for the account id shown on their Devices page, under “Your account id”."), moderation),
    custodianCard(api, confirmButton),
    recoveryKeySection(device), // an administrator's own recovery key (the Account screen's, for this role)
  );
  container.classList.add("page-wide");
  replace(container, page);

  // ---- polling -----------------------------------------------------------------------------------------
  function setTile(key, v, detail) {
    const t = tiles[key];
    t.series.push(v);
    t.value.textContent = t.format(v);
    if (detail !== undefined) t.detail.textContent = detail;
    t.chart.update(t.series.values); // a short history is stretched over the width
  }

  let lastLatency = null;
  let lastThroughput = null;
  function showLastKnown(key, v, at, detail) {
    const t = tiles[key];
    const when = clockTime(at);
    t.value.textContent = t.format(v);
    t.detail.textContent = `last known, ${when} · ${detail}`;
  }

  function render(cur) {
    const m = cur.metrics;
    const accepted = rate(prev, cur, (x) => x.envelopes.accepted);
    const delivered = rate(prev, cur, (x) => x.envelopes.delivered);
    setTile("throughput", accepted, delivered === null ? "envelopes/s accepted" : `accepted · ${formatNumber(delivered, 1)}/s delivered`);
    const lat = latencyWindow(prev, cur);
    setTile("latency", lat[0.95], `p50 ${formatSeconds(lat[0.5])} · p99 ${formatSeconds(lat[0.99])}`);
    // No delivery in this window: the chart shows a gap, the tile the last figures measured, and says so.
    if (lat[0.95] !== null) lastLatency = { lat, at: cur.at };
    else if (lastLatency) showLastKnown("latency", lastLatency.lat[0.95], lastLatency.at, `p50 ${formatSeconds(lastLatency.lat[0.5])} · p99 ${formatSeconds(lastLatency.lat[0.99])}`);
    if (accepted !== null) lastThroughput = { v: accepted, at: cur.at };
    else if (lastThroughput) showLastKnown("throughput", lastThroughput.v, lastThroughput.at, "envelopes/s accepted");
    setTile("backlog", m.backlog.envelopes, `oldest ${formatSeconds(m.backlog.oldest_age_seconds)}`);
    setTile("connections", m.connected_devices, `this node (${cur.node_id.slice(0, 6)})`);
    const serverErrors = rate(prev, cur, (x) => x.http.server_errors + x.socket.errors);
    const refused = rate(prev, cur, (x) => x.envelopes.rejected);
    const errors = serverErrors === null || refused === null ? null : serverErrors + refused;
    setTile("errors", errors, `${formatNumber(m.http.server_errors)} HTTP 5xx · ${formatNumber(m.envelopes.rejected)} sends refused in total`);
    const s = m.signaling_sessions || {};
    setTile("sessions", s.in_progress || 0, `${s.scheduled || 0} scheduled · ${s.ended || 0} ended`);

    replace(
      deps,
      Object.entries(cur.dependencies).map(([name, d]) =>
        h("li", { class: ["dep", d.status === "ok" ? "up" : "down"], "data-testid": `dep-${name}` }, h("span", { class: "dep-name" }, name), " ", d.status === "ok" ? `ok · ${d.latency_ms.toFixed(1)} ms` : `unavailable${d.error ? ` (${d.error})` : ""}`),
      ),
    );
    const at = clockTime(cur.at, true);
    updated.textContent = `${cur.ready ? "Ready" : "NOT READY"} · updated ${at} · every ${POLL_MS / 1000} s`;
    problem.hidden = true;
    const connectionsChanged = prev && prev.metrics.connected_devices !== m.connected_devices;
    prev = cur;
    if (connectionsChanged) refreshSlow();
  }

  async function poll() {
    if (stopped) return;
    try {
      render(await api.get("/admin/health"));
    } catch (e) {
      problem.hidden = false;
      problem.textContent = `Cannot read relay health: ${e.message}`;
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }

  let shownStaff = null; // what the staff table shows now (refreshSlow)
  async function refreshSlow() {
    try {
      // Names typed at invitation time are bound to the accounts that joined (app/names.js) before showing them.
      const [overview, staff] = await Promise.all([api.get("/admin/overview"), api.get("/admin/staff"), device.names.refresh()]);
      if (stopped) return;
      const roles = ["admin", "therapist", "client"];
      replace(
        population,
        roles.flatMap((r) => [h("dt", null, `${r[0].toUpperCase()}${r.slice(1)}s`), h("dd", { "data-testid": `accounts-${r}` }, `${overview.accounts[r] || 0}${overview.disabled_accounts[r] ? ` (+${overview.disabled_accounts[r]} disabled)` : ""}`)]),
        h("dt", null, "Active devices"),
        h("dd", null, String(overview.active_devices)),
        h("dt", null, "Pending invitations"),
        h("dd", null, String(roles.reduce((n, r) => n + (overview.pending_invitations[r] || 0), 0))),
      );
      const events = Object.entries(overview.audit_events).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)); // event names are ASCII: no collation needed
      replace(auditCounts, events.length ? events.flatMap(([k, n]) => [h("dt", null, k.replaceAll("_", " ")), h("dd", null, String(n))]) : [h("dt", null, "Entries"), h("dd", null, "0")]);
      // Redrawn only when something shown changed, and never under an armed "Confirm: disable" (a redraw
      // would take the button away between the person's two clicks).
      const staffKey = JSON.stringify(staff.accounts.map((a) => [a, device.names.ownName(a.account_id)]));
      if (staffKey === shownStaff || staffBody.querySelector("[data-armed]")) return;
      shownStaff = staffKey;
      replace(
        staffBody,
        staff.accounts.map((a) =>
          h(
            "tr",
            null,
            h("td", { "data-testid": `staff-name-${a.account_id}` }, device.names.ownName(a.account_id) || (a.account_id === device.me.account_id ? "You" : h("span", { class: "muted" }, "No name"))),
            h("td", null, h("code", { title: a.account_id }, short(a.account_id))),
            h("td", null, a.role),
            h("td", null, String(a.active_devices)),
            h("td", null, isoDay(a.created_at)),
            h("td", null, a.disabled ? "disabled" : "active"),
            h("td", null, a.account_id === device.me.account_id ? h("span", { class: "muted small" }, "you") : a.disabled ? h("button", { type: "button", class: "small secondary", onclick: () => setDisabled(a.account_id, false) }, "Enable") : confirmButton("Disable", "small danger", () => setDisabled(a.account_id, true))),
          ),
        ),
      );
    } catch (e) {
      problem.hidden = false;
      problem.textContent = `Cannot read accounts: ${e.message}`;
    }
  }

  async function slowLoop() {
    if (stopped) return;
    await refreshSlow();
    if (!stopped) slowTimer = setTimeout(slowLoop, SLOW_POLL_MS);
  }

  poll();
  slowLoop();
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(slowTimer);
  };
}

const short = (id) => `${id.slice(0, 8)}…`;

/** A destructive action takes two clicks: the first turns the button into "Confirm …". */
function confirmButton(label, cls, action) {
  const button = h("button", { type: "button", class: cls }, label);
  let armed = false;
  let reset = null;
  button.addEventListener("click", () => {
    if (!armed) {
      armed = true;
      button.dataset.armed = "";
      button.textContent = `Confirm: ${label.toLowerCase()}`;
      reset = setTimeout(() => {
        armed = false;
        delete button.dataset.armed;
        button.textContent = label;
      }, 5000);
      return;
    }
    clearTimeout(reset);
    armed = false;
    delete button.dataset.armed;
    button.textContent = label;
    action();
  });
  return button;
}
