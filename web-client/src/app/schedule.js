// Scheduling helpers on the device: the words the therapist's browser sends into each client's conversation
// (end to end encrypted, like any message; the SDK's client/schedule.py sends the same words) and an .ics
// calendar file built here, never by the server.

const WEEK_MS = 7 * 24 * 3600 * 1000;

export const weekly = (startsAt, count) => Array.from({ length: count }, (_, i) => startsAt + i * WEEK_MS);

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const two = (n) => String(n).padStart(2, "0");

/** This device's offset from UTC at that instant, in minutes (east positive; summer time included). */
export const localOffsetMinutes = (atMs) => -new Date(atMs).getTimezoneOffset();

function zone(offset) {
  if (offset === 0) return "UTC";
  const a = Math.abs(offset);
  return `UTC${offset > 0 ? "+" : "-"}${two(Math.floor(a / 60))}:${two(a % 60)}`;
}

/** "Monday 7 December 2026, 14:00 UTC+01:00 (50 minutes)": built here, not by a locale library, so the SDK
 *  (client/schedule.py) writes the same words (tests/vectors/schedule_notice.json); the offset is named because
 *  therapist and client may not share a time zone. */
export function whenText(startsAt, endsAt, offset = localOffsetMinutes(startsAt)) {
  const t = new Date(startsAt + offset * 60000);
  const length = Math.floor((endsAt - startsAt) / 60000);
  return `${DAYS[t.getUTCDay()]} ${t.getUTCDate()} ${MONTHS[t.getUTCMonth()]} ${t.getUTCFullYear()}, ${two(t.getUTCHours())}:${two(t.getUTCMinutes())} ${zone(offset)} (${length} minutes)`;
}

export const scheduledText = (s, repeats = 1, offset = undefined) =>
  repeats > 1 ? `Video sessions scheduled: weekly for ${repeats} weeks, starting ${whenText(s.starts_at, s.ends_at, offset)}.` : `Video session scheduled: ${whenText(s.starts_at, s.ends_at, offset)}.`;
export const movedText = (before, after, offset = undefined) =>
  `Video session moved from ${whenText(before.starts_at, before.ends_at, offset)} to ${whenText(after.starts_at, after.ends_at, offset)}.`;
export const cancelledText = (s, offset = undefined) => `Video session cancelled: ${whenText(s.starts_at, s.ends_at, offset)}.`;

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
