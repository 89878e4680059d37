// A therapist's notes about one client, beside the conversation: written and autosaved here, sealed under
// the account's vault key (app/vault_records.js), newest first, searched on this device, editable and
// deletable (deleting removes the record from the server). Notes are never sent to the client.
import { h, announce, formatDateTime } from "../lib/dom.js";
import { vaultRecords, VaultLocked } from "../app/vault_records.js";
import { ensureVaultKey } from "../app/vault_key.js";
import { InvalidKey } from "../crypto/errors.js";
import { CustodianStatus, deleteNoteCopy, sealNoteCopy } from "../app/custodian.js";
import "../notes.css";

const AUTOSAVE_MS = 800;

export function notesView(device, clientId) {
  const vr = vaultRecords(device);
  const name = () => device.contactName(clientId);
  const title = h("h1", { id: "notes-title" }, `Notes · ${name()}`);
  const body = h("div");
  const status = h("p", { class: "small muted", role: "status", "aria-live": "polite" });
  const alert = h("div", { "aria-live": "assertive" });
  const custodianLine = h("p", { class: "small muted", "data-testid": "custodian-note-status" });
  // The records custodian (app/custodian.js): after each save, say whether the practice also holds a copy.
  const showCustodian = (result) => {
    const refused = result === CustodianStatus.KEY_MISMATCH || result === CustodianStatus.UNVERIFIED;
    custodianLine.classList.toggle("notice", refused);
    custodianLine.classList.toggle("warn", refused);
    custodianLine.setAttribute("role", refused ? "alert" : "status");
    custodianLine.textContent = {
      [CustodianStatus.SEALED]: "Also encrypted to your practice's records custodian, as the terms this client accepted say.",
      [CustodianStatus.NOT_ACCEPTED]: "Your practice has a records custodian, but this client has not accepted terms that disclose it: these notes are yours alone.",
      [CustodianStatus.NOT_DISCLOSED]: "Your practice has a records custodian, but your terms do not disclose it: these notes are yours alone.",
      [CustodianStatus.KEY_MISMATCH]: "Not encrypted to the records custodian: the server offers another custodian key than the one in the terms this client accepted. Tell your practice's administrator.",
      [CustodianStatus.UNVERIFIED]: "Not encrypted to the records custodian: the terms the server shows are not the ones this client signed. Tell your practice's administrator.",
    }[result] || "";
  };
  const copyToCustodian = async (entry) => {
    try {
      showCustodian(await sealNoteCopy(device, entry));
    } catch {
      showCustodian("");
      custodianLine.textContent = "Saved, but the records custodian's copy could not be stored; it is stored at the next save.";
    }
  };
  let query = "";
  let editing = 0; // notes open for editing: a sync must not re-render them away under the person's hands
  let cleanupTimer = null;

  const showError = (text) => alert.replaceChildren(h("div", { class: "notice error", role: "alert" }, text));
  const conflictNotice = (saved) => {
    if (!saved.conflict) return;
    alert.replaceChildren(
      h("div", { class: "notice warn", role: "alert" }, "This note was also changed on another device at the same time. Both versions are kept below: keep the one you want and delete the other."),
    );
  };

  // One autosaving editor: the first save creates the note, later ones update it.
  const editor = (label, note, onDone) => {
    let noteId = note ? note.recordId : null;
    let base = note ? note.version : 0; // the version on screen: a write from another device meanwhile is a conflict
    let timer = null;
    let saving = Promise.resolve();
    const area = h("textarea", { "aria-label": label, rows: 4 }, note ? note.body.text : "");
    const wrap = h("div", { class: "field" });
    const save = () => {
      clearTimeout(timer);
      const text = area.value.trim();
      if (!text) return saving;
      saving = saving.then(async () => {
        status.textContent = "Saving…";
        try {
          const saved = await vr.saveNote(clientId, text, noteId, base);
          noteId = saved.entry.recordId;
          base = saved.entry.version;
          conflictNotice(saved);
          await copyToCustodian(saved.entry);
          status.textContent = `Saved ${formatDateTime(Date.now())}`;
          renderList();
        } catch (e) {
          status.textContent = "";
          showError(e.code === "network" ? "Not saved: the server cannot be reached. Your text is still here." : "Not saved. Try again.");
        }
      });
      return saving;
    };
    area.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(save, AUTOSAVE_MS);
    });
    // Leaving the text saves it, unless focus moves to this editor's own button (which saves anyway).
    area.addEventListener("blur", (ev) => {
      if (!wrap.contains(ev.relatedTarget)) save();
    });
    cleanupTimer = () => clearTimeout(timer);
    // A new note's editor is swapped for an empty one at once, so that typing on goes into a new note.
    const finish = async () => {
      const pending = save();
      if (!note) onDone();
      await pending;
      if (note) onDone();
    };
    const done = h("button", { type: "button", class: "secondary small", onclick: finish }, note ? "Done" : "Save note");
    wrap.append(area, h("div", { class: "row end" }, done));
    return wrap;
  };

  const list = h("ul", { class: "session-list", "aria-label": "Notes, newest first" });
  const damaged = h("div");
  const renderList = () => {
    if (editing) return;
    const bad = vr.unreadable.size;
    damaged.replaceChildren(
      bad
        ? h("div", { class: "notice error", role: "alert" }, `${bad === 1 ? "One record" : `${bad} records`} of your vault could not be read: ${bad === 1 ? "it was" : "they were"} altered or moved on the server. ${bad === 1 ? "It is" : "They are"} not shown.`)
        : "",
    );
    const notes = query ? vr.search(clientId, query) : vr.notes(clientId);
    list.replaceChildren(
      ...notes.map((n) =>
        h(
          "li",
          { class: "session-item note", "data-note": n.recordId },
          h(
            "div",
            { class: "grow" },
            h("p", { class: "note-text" }, n.body.text),
            h("span", { class: "client-sub" }, `${n.body.conflict_of ? "Conflicting copy · " : ""}Edited ${formatDateTime(n.body.updated_at)}`),
          ),
          h("div", { class: "row" },
            h("button", { type: "button", class: "ghost small", "aria-label": `Edit note from ${formatDateTime(n.body.updated_at)}`, onclick: (ev) => {
              const li = ev.target.closest("li");
              editing++;
              li.replaceChildren(editor("Edit note", n, () => { editing--; renderList(); }));
              li.querySelector("textarea").focus();
            } }, "Edit"),
            h("button", { type: "button", class: "ghost small", "aria-label": `Delete note from ${formatDateTime(n.body.updated_at)}`, onclick: async () => {
              try {
                await vr.remove(n.recordId);
                deleteNoteCopy(device, n.recordId).catch(() => {});
                announce("Note deleted");
                renderList();
              } catch (e) {
                showError(e.code === "conflict" ? "This note changed on another device; look at it again before deleting." : "Not deleted. Try again.");
                vr.sync().catch(() => {});
              }
            } }, "Delete"),
          ),
        ),
      ),
    );
    if (!notes.length) list.replaceChildren(h("li", { class: "muted small" }, query ? "No note matches." : "No notes yet."));
  };

  const search = h("input", { type: "search", id: "notes-search", "aria-label": "Search notes on this device", placeholder: "Search notes" });
  search.addEventListener("input", () => {
    query = search.value;
    renderList();
  });

  let fresh = editor("New note", null, () => {
    fresh.replaceWith((fresh = editor("New note", null, () => {})));
  });
  const ready = () =>
    body.replaceChildren(
      h("section", { class: "card" }, h("h2", null, "New note"), h("p", { class: "small muted" }, "Only your devices can read your notes. They are saved as you type and never sent to your client."), custodianLine, fresh, status),
      h("section", { class: "card" }, h("h2", null, "Earlier notes"), damaged, h("div", { class: "field" }, search), list),
    );

  const lockedPanel = () => {
    const input = h("input", { type: "text", id: "recovery-input", autocomplete: "off", spellcheck: "false", placeholder: "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX" });
    const submit = async (ev) => {
      ev.preventDefault();
      try {
        await vr.adoptRecoveryKey(input.value);
        await vr.sync();
        alert.replaceChildren();
        announce("Notes unlocked");
        ready();
        renderList();
      } catch (e) {
        if (e instanceof InvalidKey) showError("That recovery key has a typo. Check each group of four characters.");
        else if (e.code === "not_found") showError("That recovery key does not match this account.");
        else if (e.code === "rate_limited") showError("Too many tries. Wait an hour and try again.");
        else showError("The notes could not be unlocked. Try again.");
      }
    };
    return h(
      "section",
      { class: "card" },
      h("h2", null, "Your notes are locked on this device"),
      h("p", null, "Enter your recovery key to read and write your notes here."),
      h("form", { onsubmit: submit },
        h("div", { class: "field" }, h("label", { for: "recovery-input" }, "Recovery key"), input),
        h("button", { type: "submit" }, "Unlock notes")),
    );
  };

  const start = async () => {
    try {
      // The key is made at the first unlock (app/vault_key.js) and its recovery key shown when the account was
      // created (views/newrecovery.js); locked here means another device made it and it has not reached this one.
      if (!(await ensureVaultKey(device))) throw new VaultLocked("Your notes are locked on this device.");
      await vr.sync();
      ready();
      renderList();
    } catch (e) {
      if (e instanceof VaultLocked) body.replaceChildren(lockedPanel());
      else showError("Your notes cannot be loaded right now.");
    }
  };
  const onChange = () => renderList();
  vr.addEventListener("change", onChange);
  start();

  const node = h(
    "div",
    { class: "page notes", "data-account": clientId },
    h("div", { class: "row" }, h("a", { class: "button ghost small", href: `#/chat/${clientId}` }, "‹ Back to the conversation")),
    title,
    alert,
    body,
  );
  return { node, cleanup: () => { vr.removeEventListener("change", onChange); if (cleanupTimer) cleanupTimer(); } };
}
