// One conversation: messages with sending / sent / delivered / queued / failed states, retry,
// a key-change warning, and a composer. New incoming messages are announced politely.
import { h, burstAnnouncer, formatTime, formatDay, formatDateTime } from "../lib/dom.js";
import { attachControls, bindDropAndPaste, fileCard } from "./attachments.js";
import { termsUpdateBox } from "./termsupdate.js";
import { enterSends } from "./phone.js";
import "./trust.css";

const BLOCK = 100; // bubbles (and day lines) per block of the conversation
const sayArrived = burstAnnouncer(); // a backlog's pages are announced as one burst (lib/dom.js)

const STATE_TEXT = {
  sending: "Sending…",
  queued: "Waiting for connection",
  sent: "Sent",
  delivered: "Delivered",
  failed: "Not sent",
  held: "Waiting: their security key changed",
};

export function chatView(device, accountId) {
  const m = device.messenger;
  const name = () => device.contactName(accountId);
  const list = h("div", { class: "messages", role: "log", "aria-label": "Messages", tabindex: "0" });
  const banner = h("div");
  const input = h("textarea", { id: "composer", rows: 1, placeholder: "Write a message…", "aria-label": `Message to ${name()}`, dir: "auto" });
  // A client sees a new terms version here, in the conversation, without losing what they are typing.
  const updates = device.role === "client" ? termsUpdateBox(device, accountId) : null;
  const send = h("button", { type: "submit" }, "Send");
  const title = h("h1", { id: "chat-title" }, name());
  const rendered = new Map();
  const drawn = new Map(); // message id -> the state it was drawn in
  const cards = new Map(); // message id -> file card: kept across re-renders (a download in progress)
  const attach = attachControls(device, accountId, name);
  let lastDay = null;

  const renderBanner = () => {
    const c = device.contacts.get(accountId);
    const items = [];
    if (c && c.st.mismatch)
      items.push(
        h(
          "div",
          { class: "notice error", role: "alert" },
          h("strong", null, `The key the server gave for ${name()} does not match your invitation link. `),
          "Someone may be in the middle. Nothing is sent to them until you compare safety numbers with them in person or on a call.",
          h("div", { class: "row" }, h("a", { class: "button secondary small", href: `#/verify/${accountId}` }, "Compare safety numbers")),
        ),
      );
    if (c && c.rejected && c.rejected.length && !c.st.keyChanged && !c.st.mismatch)
      items.push(
        h(
          "div",
          { class: "notice warn", role: "status" },
          `The server lists ${c.rejected.length === 1 ? "a device" : `${c.rejected.length} devices`} that ${name()}'s account did not approve. Nothing is sent to ${c.rejected.length === 1 ? "it" : "them"}.`,
        ),
      );
    if (c && c.st.keyChanged)
      items.push(
        h(
          "div",
          { class: "notice warn", role: "alert" },
          h("strong", null, `${name()}'s security key has changed. `),
          "Nothing is sent to them and no call is placed until you accept the new key; your messages wait. " +
            "If you did not expect this, compare safety numbers with them first.",
          h(
            "div",
            { class: "row" },
            h("a", { class: "button secondary small", href: `#/verify/${accountId}` }, "Compare safety numbers"),
            h("button", { class: "secondary small", type: "button", onclick: () => device.acknowledgeKeyChange(accountId) }, "Accept the new key"),
          ),
        ),
      );
    const consent = c && c.consent;
    if (device.role === "therapist" && c && consent && consent.accepted_version !== consent.current_version)
      items.push(h("div", { class: "notice info", role: "status" }, `${name()} has not accepted your current confidentiality terms yet. You can write once they have.`));
    banner.replaceChildren(...items);
  };

  // The conversation is drawn in blocks of BLOCK bubbles (styles.css .msg-block: content-visibility auto): a
  // block off screen is neither laid out nor painted, so a frame walks one entry per block, not every bubble
  // (each frame's layout walked every bubble: 7 ms a frame at 2,500 in a backlog).
  let block = null;
  let inBlock = 0;
  const place = (node) => {
    if (!block || inBlock >= BLOCK) {
      block = h("div", { class: "msg-block" });
      list.insertBefore(block, emptyNote && emptyNote.parentNode === list ? emptyNote : null);
      inBlock = 0;
    }
    inBlock++;
    block.appendChild(node);
  };
  let emptyNote = null;

  const renderMessage = (msg) => {
    let li = rendered.get(msg.id);
    // Already on screen and unchanged: nothing to do (a backlog re-renders only what is new). Compared with
    // what was drawn as a plain string, not read back from the DOM: every refresh checks the whole
    // conversation, and reading each bubble's attributes made that the chat's main cost in a backlog.
    const key = `${msg.state || "received"}|${msg.dir === "out" ? String(msg.error || "") : ""}`;
    if (li && drawn.get(msg.id) === key) return li;
    drawn.set(msg.id, key);
    if (!li) {
      const day = formatDay(msg.at);
      if (day !== lastDay) {
        place(h("div", { class: "day-sep", "aria-hidden": "true" }, day));
        lastDay = day;
      }
      li = h("div");
      rendered.set(msg.id, li);
      place(li);
      fresh.push(msg);
    }
    if (msg.dir === "notice") {
      li.className = "msg notice";
      li.replaceChildren(h("div", { class: `notice ${msg.kind === "info" ? "info" : "warn"} small` }, msg.body));
      return li;
    }
    li.className = `msg ${msg.dir}${msg.state === "failed" ? " failed" : ""}`;
    li.dataset.id = msg.id;
    li.dataset.state = msg.state || "received";
    li.dataset.error = String(msg.error || "");
    const who = msg.dir === "out" ? "You" : name();
    const meta = [h("span", { class: "visually-hidden" }, `${who}, `), h("time", { datetime: new Date(msg.at).toISOString() }, formatTime(msg.at))];
    if (msg.dir === "out") {
      meta.push(h("span", { class: "msg-state" }, STATE_TEXT[msg.state] || ""));
      if (msg.state === "failed" && msg.error) meta.push(h("span", { class: "msg-error" }, msg.error));
      if (msg.state === "failed")
        meta.push(h("button", { class: "ghost small", type: "button", onclick: () => m.retry(accountId, msg.id) }, "Retry"));
    }
    if (msg.kind === "file" && !cards.has(msg.id)) cards.set(msg.id, fileCard(device, msg));
    const content = msg.kind === "file" ? cards.get(msg.id) : msg.body;
    li.replaceChildren(h("div", { class: msg.kind === "file" ? "bubble file" : "bubble", dir: "auto" }, content), h("div", { class: "meta" }, meta));
    return li;
  };

  let firstLoad = true;
  let rendering = Promise.resolve();
  let rev = -1; // the messenger's changes drawn so far (app/messenger.js changesSince); -1: none yet
  let fresh = []; // messages drawn for the first time in this refresh
  // One refresh at a time, rendering in slices so a long conversation never freezes the page.
  const refresh = (incoming, history) =>
    (rendering = rendering.then(() => doRefresh(incoming, history)).catch((e) => console.error("chat", e)));
  const doRefresh = async (incoming, history) => {
    const conv = await m.conversation(accountId);
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    if (history && rev >= 0) {
      // Older messages from the account's history were put in their place in time: drawn again in order.
      for (const b of list.querySelectorAll(".msg-block")) b.remove();
      rendered.clear();
      drawn.clear();
      block = null;
      lastDay = null;
      rev = -1;
    }
    // Only what was added or changed since the last refresh: a backlog's pages each redraw their own
    // messages, not the whole conversation again.
    const changes = m.changesSince(accountId, rev);
    rev = changes.rev;
    const todo = changes.msgs || conv;
    fresh = [];
    for (let i = 0; i < todo.length; i++) {
      renderMessage(todo[i]);
      if (i % 250 === 249) await new Promise((r) => setTimeout(r, 0));
    }
    if (incoming && !firstLoad) {
      const arrived = fresh.filter((x) => x.dir === "in");
      const last = arrived[arrived.length - 1];
      const said = (x) => `${x.kind === "file" ? "file" : "message"} from ${name()}: ${x.body}`;
      if (last) sayArrived(accountId, arrived.length, () => `New ${said(last)}`, (n) => `${n} more ${n === 1 ? "message" : "messages"} from ${name()}. The latest: ${said(last)}`);
    }
    if (firstLoad || nearBottom || fresh.length) list.scrollTop = list.scrollHeight;
    if (firstLoad && !conv.length) {
      emptyNote = h("div", { class: "empty", id: "chat-empty" }, "No messages yet. Messages here are end-to-end encrypted.");
      list.appendChild(emptyNote);
    } else if (conv.length && emptyNote) {
      emptyNote.remove();
      emptyNote = null;
    }
    firstLoad = false;
    if (document.visibilityState === "visible") m.markRead(accountId);
  };

  const submit = async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (updates && updates.holdSend()) return; // the draft stays in the composer
    input.value = "";
    m.drafts.delete(accountId);
    autosize();
    await m.send(accountId, text);
    input.focus();
  };
  const autosize = () => {
    input.classList.toggle("multi", input.value.includes("\n"));
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && enterSends()) submit(e);
  });
  input.addEventListener("input", () => {
    autosize();
    if (input.value) m.drafts.set(accountId, input.value);
    else m.drafts.delete(accountId);
  });
  // The screen may be drawn again while the person types (a contacts refresh, new terms): keep the draft.
  input.value = m.drafts.get(accountId) || "";
  autosize();

  const onChange = (e) => {
    const d = e.detail;
    if (d.what === "messages" && d.accountId === accountId) refresh(d.incoming, d.history);
    if (d.what === "contacts") {
      title.textContent = name(); // names can arrive later (the vault, a contact's display name)
      input.setAttribute("aria-label", `Message to ${name()}`);
      renderBanner();
    }
  };
  device.addEventListener("change", onChange);
  // Read in a background tab: marked read (and the title's count cleared) when the person comes back.
  const onVisible = () => document.visibilityState === "visible" && m.markRead(accountId);
  document.addEventListener("visibilitychange", onVisible);
  renderBanner();
  refresh(false);

  // The next video session with this person, in the header (joinable from 15 minutes before).
  const next = h("div", { class: "next-session" });
  device.api
    .get("/sessions")
    .then(({ sessions }) => {
      const now = Date.now();
      const s = sessions
        .filter((x) => !["ended", "cancelled"].includes(x.state) && x.ends_at > now)
        .filter((x) => x.therapist_id === accountId || x.participants.includes(accountId))
        .sort((a, b) => a.starts_at - b.starts_at)[0];
      if (!s) return;
      const joinable = now >= s.starts_at - 15 * 60 * 1000;
      next.replaceChildren(
        h("span", { class: "small muted" }, "Next session ", h("strong", null, formatDateTime(s.starts_at))),
        joinable ? h("a", { class: "button small", href: `#/call/${s.session_id}` }, device.role === "therapist" ? "Open waiting room" : "Join") : null,
      );
    })
    .catch(() => {});

  const c = device.contacts.get(accountId);
  const verified = c && c.st.verified;
  const node = h(
    "section",
    { class: "chat", "aria-labelledby": "chat-title", "data-account": accountId },
    h(
      "div",
      { class: "chat-head" },
      device.role === "therapist" ? h("a", { class: "back-link button ghost small", href: "#/", "aria-label": "Back to clients" }, "‹") : null,
      h("div", { class: "avatar", "aria-hidden": "true" }, initials(name())),
      h("div", null, title, h("span", { class: "lock-note" }, verified ? "End-to-end encrypted · verified" : "End-to-end encrypted")),
      h("span", { class: "spacer" }),
      next,
      device.role === "therapist" ? h("a", { class: "button secondary small", href: `#/notes/${accountId}` }, "Notes") : null,
      device.role === "therapist" ? h("a", { class: "button ghost small", href: `#/rename/${accountId}` }, "Rename") : null,
      h("a", { class: "button secondary small", href: `#/verify/${accountId}` }, "Safety number"),
      device.role === "therapist" ? h("a", { class: "button ghost small", href: `#/end/${accountId}` }, "End therapy") : null,
    ),
    banner,
    updates ? updates.node : null,
    list,
    attach.area,
    h("form", { class: "composer", onsubmit: submit }, attach.button, attach.input, input, send),
  );
  bindDropAndPaste(node, input, attach.attach);
  queueMicrotask(() => input.focus());
  return { node, cleanup: () => {
    device.removeEventListener("change", onChange);
    document.removeEventListener("visibilitychange", onVisible);
    if (updates) updates.cleanup();
  } };
}

export function initials(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return ((parts[0] || "?")[0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}
