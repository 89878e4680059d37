import { h } from "../lib/dom.js";
export function sessionsView() {
  return h("div", { class: "page" }, h("div", { class: "card" }, h("h1", null, "Sessions"), h("p", { class: "muted" }, "No sessions scheduled.")));
}
