// Upcoming video sessions. Therapists schedule (one to three clients, once or weekly), reschedule and cancel
// them, and each client is told in their conversation; both sides join from here and can add a session to
// their calendar (an .ics file made in this browser).
import { h, announce, formatDateTime } from "../lib/dom.js";
import { cancelledText, downloadIcs, movedText, scheduledText, tellClients, weekly } from "../app/schedule.js";

const STATE_TEXT = { scheduled: "Scheduled", open: "Waiting room open", in_progress: "In progress", ended: "Ended", cancelled: "Cancelled" };
const JOIN_EARLY_MS = 15 * 60 * 1000;

function localInputValue(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

export function sessionsView(device) {
  const list = h("ul", { class: "session-list", "aria-label": "Sessions" });
  const err = h("div", { class: "notice error", role: "alert", hidden: true });
  const therapist = device.role === "therapist";

  const refresh = async () => {
    let sessions = [];
    try {
      ({ sessions } = await device.api.get("/sessions"));
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
      return;
    }
    const now = Date.now();
    const upcoming = sessions.filter((s) => !["ended", "cancelled"].includes(s.state) && s.ends_at > now).sort((a, b) => a.starts_at - b.starts_at);
    if (!upcoming.length) {
      list.replaceChildren(h("li", { class: "muted" }, therapist ? "No upcoming sessions. Schedule one below." : "No upcoming sessions. Your therapist will schedule one with you."));
      return;
    }
    list.replaceChildren(
      ...upcoming.map((s) => {
        const others = (s.participant_count || 1) - 1;
        const who = therapist
          ? s.participants.map((id) => device.contactName(id)).join(", ")
          : `${device.contactName(s.therapist_id)}${others ? ` and ${others} other ${others === 1 ? "person" : "people"}` : ""}`;
        const joinable = now >= s.starts_at - JOIN_EARLY_MS;
        const when = formatDateTime(s.starts_at);
        const actions = h(
          "div",
          { class: "session-actions" },
          h("button", { type: "button", class: "secondary", "aria-label": `Add to calendar: session of ${when}`, onclick: () => downloadIcs(s) }, "Add to calendar"),
          therapist && s.state === "scheduled" ? h("button", { type: "button", class: "secondary", "aria-label": `Reschedule: session of ${when}`, onclick: () => editor.hidden = !editor.hidden }, "Reschedule") : null,
          therapist && ["scheduled", "open"].includes(s.state) ? h("button", { type: "button", class: "secondary danger-text", "aria-label": `Cancel: session of ${when}`, onclick: () => cancel(s) }, "Cancel") : null,
        );
        const editor = therapist ? rescheduleForm(s) : h("span");
        editor.hidden = true;
        return h(
          "li",
          { class: "session-item" },
          h(
            "div",
            { class: "client-name" },
            h("span", { class: "session-when" }, when),
            h("span", { class: "client-sub" }, `${Math.round((s.ends_at - s.starts_at) / 60000)} minutes with ${who}`),
          ),
          h("span", { class: ["pill", s.state !== "scheduled" ? "live" : ""] }, STATE_TEXT[s.state] || s.state),
          joinable
            ? h("a", { class: "button", href: `#/call/${s.session_id}` }, therapist ? "Open waiting room" : "Join")
            : h("span", { class: "small muted" }, "Opens 15 minutes before"),
          actions,
          editor,
        );
      }),
    );
  };
  const fail = (e) => {
    err.textContent = e.message;
    err.hidden = false;
  };

  const cancel = async (s) => {
    if (!window.confirm(`Cancel the session of ${formatDateTime(s.starts_at)}? Your client will be told.`)) return;
    try {
      await device.api.del(`/sessions/${s.session_id}`);
      await tellClients(device, s, cancelledText(s));
      announce("Session cancelled; your client was told");
      await refresh();
    } catch (e) {
      fail(e);
    }
  };

  function rescheduleForm(s) {
    const id = `move-${s.session_id}`;
    const start = h("input", { id, type: "datetime-local", required: true, value: localInputValue(s.starts_at) });
    return h(
      "form",
      {
        class: "reschedule row",
        onsubmit: async (e) => {
          e.preventDefault();
          const startsAt = new Date(start.value).getTime();
          try {
            const moved = await device.api.request("PATCH", `/sessions/${s.session_id}`, { starts_at: startsAt, ends_at: startsAt + (s.ends_at - s.starts_at) });
            await tellClients(device, moved, movedText(s, moved));
            announce("Session moved; your client was told");
            await refresh();
          } catch (e2) {
            fail(e2);
          }
        },
      },
      h("div", { class: "field grow" }, h("label", { for: id }, "New start"), start),
      h("button", { type: "submit" }, "Save new time"),
    );
  }

  refresh();
  const timer = setInterval(refresh, 30000);

  let form = null;
  if (therapist) {
    const clients = [...device.contacts.values()].filter((c) => c.role === "client");
    // One to three clients: one-to-one, couples, families (a full mesh of up to 4 people).
    const boxes = clients.map((c, i) => h("input", { type: "checkbox", id: `session-client-${i}`, value: c.account_id, checked: i === 0 && clients.length === 1 }));
    const who = h(
      "fieldset",
      { class: "field client-picks" },
      h("legend", null, "Clients (up to three)"),
      ...clients.map((c, i) => h("div", { class: "check" }, boxes[i], h("label", { for: `session-client-${i}` }, device.contactName(c.account_id)))),
    );
    const when = h("input", { id: "session-start", type: "datetime-local", required: true, value: localInputValue(Date.now()) });
    const length = h("select", { id: "session-length" }, [30, 45, 50, 60, 90].map((m) => h("option", { value: m, selected: m === 50 }, `${m} minutes`)));
    const repeat = h("select", { id: "session-repeat" }, [[1, "Does not repeat"], [4, "Weekly, 4 sessions"], [8, "Weekly, 8 sessions"], [12, "Weekly, 12 sessions"]].map(([n, label]) => h("option", { value: n }, label)));
    const submit = h("button", { type: "submit", disabled: !clients.length }, "Schedule session");
    form = h(
      "form",
      {
        class: "card",
        onsubmit: async (e) => {
          e.preventDefault();
          err.hidden = true;
          const startsAt = new Date(when.value).getTime();
          const picked = boxes.filter((b) => b.checked).map((b) => b.value);
          if (!picked.length || picked.length > 3) {
            err.textContent = picked.length ? "A session has at most three clients." : "Choose at least one client.";
            err.hidden = false;
            return;
          }
          submit.disabled = true;
          try {
            // Weekly recurrence: one session per week, each its own appointment (moved or cancelled alone).
            const starts = weekly(startsAt, Number(repeat.value));
            let first = null;
            for (const at of starts) {
              const s = await device.api.post("/sessions", { participants: picked, starts_at: at, ends_at: at + Number(length.value) * 60000 });
              first = first || s;
            }
            await tellClients(device, first, scheduledText(first, starts.length));
            announce(starts.length > 1 ? "Weekly sessions scheduled; your client was told" : "Session scheduled; your client was told");
            await refresh();
          } catch (e2) {
            err.textContent = e2.message;
            err.hidden = false;
          } finally {
            submit.disabled = false;
          }
        },
      },
      h("h2", null, "Schedule a session"),
      clients.length ? null : h("p", { class: "muted" }, "Invite a client first."),
      clients.length ? who : null,
      h(
        "div",
        { class: "row" },
        h("div", { class: "field grow" }, h("label", { for: "session-start" }, "Starts"), when),
        h("div", { class: "field" }, h("label", { for: "session-length" }, "Length"), length),
        h("div", { class: "field" }, h("label", { for: "session-repeat" }, "Repeats"), repeat),
      ),
      h("div", { class: "row end" }, submit),
    );
  }
  const node = h(
    "div",
    { class: "page" },
    h("h1", null, "Video sessions"),
    h("p", { class: "muted" }, "Video is end-to-end encrypted between your browsers. The server only knows when a session starts and ends."),
    err,
    h("section", { class: "card", "aria-labelledby": "upcoming" }, h("h2", { id: "upcoming" }, "Upcoming"), list),
    form,
  );
  return { node, cleanup: () => clearInterval(timer) };
}
