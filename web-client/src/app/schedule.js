// Scheduling helpers on the device: the words the therapist's browser sends into each client's conversation
// (end to end encrypted, like any message) and an .ics calendar file built here, never by the server.

const WEEK_MS = 7 * 24 * 3600 * 1000;

export const weekly = (startsAt, count) => Array.from({ length: count }, (_, i) => startsAt + i * WEEK_MS);

export function whenText(startsAt, endsAt) {
  const when = new Date(startsAt).toLocaleString([], { weekday: "long", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return `${when} (${Math.round((endsAt - startsAt) / 60000)} minutes)`;
}

export const scheduledText = (s, repeats = 1) =>
  repeats > 1 ? `Video sessions scheduled: weekly for ${repeats} weeks, starting ${whenText(s.starts_at, s.ends_at)}.` : `Video session scheduled: ${whenText(s.starts_at, s.ends_at)}.`;
export const movedText = (before, after) => `Video session moved from ${whenText(before.starts_at, before.ends_at)} to ${whenText(after.starts_at, after.ends_at)}.`;
export const cancelledText = (s) => `Video session cancelled: ${whenText(s.starts_at, s.ends_at)}.`;

/** Tell every client of the session, in their conversation; a failure to send is shown, not thrown. */
export async function tellClients(device, session, text) {
  for (const accountId of session.participants) await device.messenger.send(accountId, text);
}

const stamp = (ms) => new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");

/** An iCalendar file for one session. No names: calendars are often synced to someone else's cloud. */
export function icsFor(session) {
  const lines = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Confidant//Video session//EN",
    "BEGIN:VEVENT",
    `UID:${session.session_id}@confidant`,
    `DTSTAMP:${stamp(Date.now())}`,
    `DTSTART:${stamp(session.starts_at)}`,
    `DTEND:${stamp(session.ends_at)}`,
    "SUMMARY:Video session",
    `DESCRIPTION:Join from Confidant\\, Sessions\\, 15 minutes before the start.`,
    "END:VEVENT",
    "END:VCALENDAR",
  ];
  return lines.join("\r\n") + "\r\n";
}

export function downloadIcs(session) {
  const url = URL.createObjectURL(new Blob([icsFor(session)], { type: "text/calendar" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `session-${new Date(session.starts_at).toISOString().slice(0, 10)}.ics`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
