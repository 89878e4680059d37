// Consent: the client reads the therapist's confidentiality terms in full and signs them; the therapist publishes them.
import { h, announce, formatDateTime } from "../lib/dom.js";
import { acceptAndRemember } from "../app/termsmemory.js";
import { termsDiffView } from "./termsdiff.js";
import { withScrollCue } from "./scrollcue.js";
import { custodianFingerprint, disclosedKey, disclosureText } from "../crypto/custodian.js";
import { equalBytes, fromB64 } from "../lib/bytes.js";

export function acceptTermsView(device, terms, { onDone }) {
  const err = h("div", { class: "notice error", role: "alert", hidden: true });
  const check = h("input", { type: "checkbox", id: "terms-read" });
  const accept = h("button", { type: "button", disabled: true }, "I accept these terms");
  check.addEventListener("change", () => (accept.disabled = !check.checked));
  accept.addEventListener("click", async () => {
    accept.disabled = true;
    err.hidden = true;
    try {
      await acceptAndRemember(device, terms);
      announce("Terms accepted");
      onDone();
    } catch (e) {
      accept.disabled = false;
      err.textContent = e.message;
      err.hidden = false;
    }
  });
  const heading = h("h1", { id: "terms-title", tabindex: "-1" }, "Confidentiality terms");
  queueMicrotask(() => heading.focus());
  return h(
    "div",
    { class: "page" },
    h(
      "section",
      { class: "card", "aria-labelledby": "terms-title" },
      heading,
      h("p", { class: "muted" }, `Before you can write to your therapist, please read their terms: what stays private, and the limits of confidentiality. Version ${terms.version}, published ${formatDateTime(terms.published_at)}.`),
      withScrollCue(h("div", { class: "terms-text", tabindex: "0", role: "document", "aria-label": "Terms text", dir: "auto" }, terms.text)),
      custodianNotice(terms.text),
      err,
      h("div", { class: "field row" }, check, h("label", { for: "terms-read" }, "I have read these terms in full.")),
      h("p", { class: "small muted" }, "Accepting signs the terms with your device key; your therapist and the server can check the signature."),
      h("div", { class: "row end" }, accept),
    ),
  );
}

// The terms name a records custodian: say so plainly beside the text (its key is pinned by accepting it).
export function custodianNotice(text) {
  const key = disclosedKey(text);
  if (!key) return "";
  return h("p", { class: "notice", "data-testid": "custodian-disclosed" }, `These terms name a records custodian: the notes your therapist writes about you are also encrypted to your therapist's practice (key fingerprint ${custodianFingerprint(key)}), so that it can keep them if your therapist leaves. Only the practice, with a key it keeps offline, can open them.`);
}

export function waitingTermsView() {
  return h(
    "div",
    { class: "page" },
    h("div", { class: "card" }, h("h1", null, "Almost there"), h("p", null, "Your therapist has not published their confidentiality terms yet. You will be able to write to them once they have. This page updates by itself.")),
  );
}

export function publishTermsView(device) {
  const text = h("textarea", { id: "terms-text", rows: 14, required: true, dir: "auto" });
  const status = h("p", { class: "muted", role: "status" });
  const err = h("div", { class: "notice error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit" }, "Publish terms");
  const confirmBox = h("div", { class: "terms-confirm", hidden: true });
  let current = null; // {version, text} of the published version, to compare against on this device
  device.api
    .get(`/therapists/${device.me.account_id}/terms`)
    .then((t) => {
      current = { version: t.version, text: t.text };
      if (!text.value) text.value = t.text;
      status.textContent = `Current version ${t.version}, published ${formatDateTime(t.published_at)}.`;
    })
    .catch(() => (status.textContent = "You have not published terms yet. Clients cannot write to you until you do."));
  const fail = (message) => {
    err.textContent = message;
    err.hidden = false;
  };
  // The practice's records custodian (docs/OPERATIONS.md): offered as a paragraph to add to the terms.
  const custodian = h("div", { "data-testid": "custodian-offer" });
  device.api
    .get("/custodian")
    .then((c) => {
      if (!c.enabled) return;
      const key = fromB64(c.public_key);
      const add = h("button", { type: "button", class: "secondary small", onclick: () => {
        const shown = disclosedKey(text.value);
        if (shown && equalBytes(shown, key)) return;
        text.value = `${text.value.trim()}\n\n${disclosureText(key)}`;
        announce("Custodian disclosure added to the text; publish to use it");
        text.focus();
      } }, "Add the custodian disclosure");
      custodian.replaceChildren(
        h("div", { class: "notice" },
          h("p", null, `Your practice has a records custodian (key fingerprint ${custodianFingerprint(key)}). Notes about a client are also encrypted to it once your published terms disclose this key and the client has accepted them.`),
          h("div", { class: "row end" }, add)),
      );
    })
    .catch(() => {});
  const publish = async () => {
    submit.disabled = true;
    try {
      const r = await device.publishTerms(text.value);
      current = { version: r.version, text: text.value };
      confirmBox.hidden = true;
      confirmBox.replaceChildren();
      status.textContent = `Published version ${r.version}. Your clients will be asked to accept it.`;
      announce(`Terms version ${r.version} published`);
    } catch (e2) {
      fail(e2.details && e2.details.reason === "terms_unchanged" ? "These terms are the same as your current version. Nothing was published." : e2.message);
    } finally {
      submit.disabled = false;
    }
  };
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (e) => {
        e.preventDefault();
        err.hidden = true;
        if (!text.value.trim()) return;
        if (!current) return publish(); // a first version: nothing to compare
        if (text.value === current.text)
          return fail(`These terms are the same as version ${current.version}. Nothing was published: change the text to publish a new version.`);
        // What changed, computed here, and a confirmation: every client will be asked to accept again.
        const confirm = h("button", { type: "button", onclick: publish }, `Publish version ${current.version + 1}`);
        confirmBox.replaceChildren(
          h("h2", { id: "terms-confirm-title", tabindex: "-1" }, `Publish version ${current.version + 1}?`),
          h("p", null, "Every client will see a notice and must accept the new version before their next message or session."),
          termsDiffView(current.text, text.value),
          h("div", { class: "row end" }, h("button", { type: "button", class: "secondary", onclick: () => ((confirmBox.hidden = true), text.focus()) }, "Keep editing"), confirm),
        );
        confirmBox.hidden = false;
        confirmBox.querySelector("h2").focus();
      },
    },
    h("h1", null, "Confidentiality terms"),
    h("p", null, "Clients read and sign these before they can message you or join a session. Say what stays private and the exceptions (risk of harm, suspected abuse, legal orders). Publishing a new version asks every client to accept it again."),
    status,
    err,
    custodian,
    h("div", { class: "field" }, h("label", { for: "terms-text" }, "Terms"), text),
    h("div", { class: "row end" }, submit),
    confirmBox,
  );
  return h("div", { class: "page" }, form);
}
