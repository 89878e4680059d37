// The therapist's workspace: client list with unread counts beside the open conversation.
import { h } from "../lib/dom.js";
import { chatView, initials } from "./chat.js";
import { firstStepsPane } from "./firststeps.js";

export function clientsView(device, selected) {
  const list = h("ul", { class: "client-list", "aria-label": "Clients" });
  const render = () => {
    const clients = [...device.contacts.values()].filter((c) => c.role === "client");
    clients.sort((a, b) => device.contactName(a.account_id).localeCompare(device.contactName(b.account_id)));
    if (!clients.length) {
      list.replaceChildren(h("li", { class: "empty small" }, "No clients yet. Invite one to get started."));
      return;
    }
    list.replaceChildren(
      ...clients.map((c) => {
        const name = device.contactName(c.account_id);
        const unread = device.messenger.unread(c.account_id);
        const pending = c.consent && c.consent.accepted_version !== c.consent.current_version;
        const keyChanged = c.st.keyChanged || c.st.mismatch;
        return h(
          "li",
          null,
          h(
            "a",
            { href: `#/chat/${c.account_id}`, "aria-current": c.account_id === selected ? "page" : null },
            h("span", { class: "avatar", "aria-hidden": "true" }, initials(name)),
            h(
              "span",
              { class: "client-name" },
              name,
              h("span", { class: "client-sub" }, keyChanged ? "Security key changed" : pending ? "Terms not accepted yet" : "End-to-end encrypted"),
            ),
            unread ? h("span", { class: "badge", "aria-hidden": "true" }, String(unread)) : null,
            unread ? h("span", { class: "visually-hidden" }, `, ${unread} unread`) : null,
          ),
        );
      }),
    );
  };
  // Drawn once per frame at most: a page of a backlog tells about each conversation it touched, and the list
  // was drawn again for each (ten times a page with ten clients writing).
  let frame = 0;
  const onChange = (e) => {
    if (e.detail.what !== "contacts" && !(e.detail.what === "messages" && e.detail.incoming)) return;
    frame ||= requestAnimationFrame(() => {
      frame = 0;
      render();
    });
  };
  device.addEventListener("change", onChange);
  render();

  let chat = null;
  let pane;
  if (selected && device.contacts.has(selected)) {
    chat = chatView(device, selected);
    pane = chat.node;
  } else if (![...device.contacts.values()].some((c) => c.role === "client")) {
    pane = firstStepsPane(device); // an empty practice: publish terms, then invite
  } else {
    pane = h(
      "div",
      { class: "empty" },
      h("h1", null, "Your clients"),
      h("p", null, "Choose a client to open your conversation, or invite someone new. Everything here is end-to-end encrypted."),
      h("a", { class: "button", href: "#/invite" }, "Invite a client"),
    );
  }
  const node = h(
    "div",
    { class: ["split", selected ? "has-chat" : ""] },
    h(
      "aside",
      { class: "sidebar", "aria-label": "Client list" },
      h("div", { class: "sidebar-head" }, h("h2", null, "Clients"), h("a", { class: "button small", href: "#/invite" }, "Invite")),
      list,
    ),
    pane,
  );
  return {
    node,
    cleanup: () => {
      device.removeEventListener("change", onChange);
      cancelAnimationFrame(frame);
      if (chat) chat.cleanup();
    },
  };
}
