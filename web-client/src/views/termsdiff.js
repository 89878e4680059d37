// What changed between two versions of terms, as added and removed lines (diff computed on the device).
import { h } from "../lib/dom.js";
import { lineDiff, hasChanges } from "../lib/linediff.js";

export function termsDiffView(before, after, { label = "What changed" } = {}) {
  const diff = lineDiff(before, after).filter((d) => d.op !== "same" && d.text.trim() !== "");
  if (!hasChanges(lineDiff(before, after)))
    return h("p", { class: "muted small" }, "Only blank lines or spacing changed.");
  return h(
    "ul",
    { class: "terms-diff", "aria-label": label },
    diff.map((d) =>
      h(
        "li",
        { class: d.op === "add" ? "diff-add" : "diff-del", dir: "auto" },
        h("span", { class: "diff-mark", "aria-hidden": "true" }, d.op === "add" ? "+" : "−"),
        h("span", { class: "visually-hidden" }, d.op === "add" ? "Added: " : "Removed: "),
        d.text,
      ),
    ),
  );
}
