// The practice's rules (docs/API.md "Practice settings"): the administrator switches them here; every client
// enforces them (web-client/src/app/practice.js, client/practice.py). A client that saw a rule on keeps
// enforcing it even if it is switched off later (docs/TRUST.md), and the card says so.
import { h, announce } from "../lib/dom.js";

export function practiceCard(api) {
  const box = h("input", { type: "checkbox", id: "practice-verified", disabled: true });
  const result = h("p", { class: "small", role: "status", "data-testid": "practice-result" });
  const show = (s) => {
    box.checked = !!s.require_verified_safety_numbers;
    box.disabled = false;
  };
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      const s = await api.put("/admin/practice", { require_verified_safety_numbers: box.checked });
      show(s);
      result.textContent = s.require_verified_safety_numbers
        ? "Saved: clients and therapists must verify each other's safety number before a session."
        : "Saved: the rule is off for devices that never saw it on.";
    } catch (e) {
      box.checked = !box.checked;
      box.disabled = false;
      result.textContent = e.message;
    }
    announce(result.textContent);
  });
  api.get("/practice").then(show, (e) => (result.textContent = `Cannot read the practice's rules: ${e.message}`));
  return h(
    "section",
    { class: "card", "aria-labelledby": "practice-h" },
    h("h2", { id: "practice-h" }, "Practice rules"),
    h("div", { class: "practice-rule" }, box, h("label", { for: "practice-verified" }, "Require verified safety numbers before a first session")),
    h(
      "p",
      { class: "muted small" },
      "When on, a therapist and a client can start a video session only after each has verified the other's safety number (in person, or with the invitation link). Their own devices enforce it, so a device that has seen it on keeps enforcing it even if it is switched off later.",
    ),
    result,
  );
}
