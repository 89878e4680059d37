import { h } from "../lib/dom.js";
export function callView() {
  return h("div", { class: "page" }, h("div", { class: "card" }, h("h1", null, "Call")));
}
