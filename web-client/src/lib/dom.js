// A tiny hyperscript helper: no framework, no inline styles (the CSP forbids them), no innerHTML.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = Array.isArray(v) ? v.filter(Boolean).join(" ") : v;
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k === "value" || k === "checked" || k === "disabled" || k === "hidden") el[k] = v;
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Resolves in a later task: what follows runs after the page had a chance to paint and handle input
 * (scheduler.yield where the browser has it: a plain timeout is clamped to 4 ms once nested). */
export function nextTask() {
  if (globalThis.scheduler && typeof globalThis.scheduler.yield === "function") return globalThis.scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

const announcer = () => document.getElementById("announcer");

/** Say something to screen-reader users without moving focus. */
export function announce(text) {
  const a = announcer();
  if (!a) return;
  a.textContent = "";
  // A fresh text node makes assistive technology re-read identical consecutive announcements.
  queueMicrotask(() => (a.textContent = text));
}

/**
 * Announcements of arriving messages, one burst at a time: the first is said at once, and what follows
 * within `quietMs` of the last is counted and said once, when the burst ends ("12 more messages from ...").
 * A backlog arrives in pages a tenth of a second apart; said page by page, a screen reader would read out
 * dozens of announcements, each cutting off the one before.
 * `say(key, n, first, more)`: `n` new messages for `key`; `first()` is the text for the burst's opening one,
 * `more(count)` the summary of the `count` that followed it.
 */
export function burstAnnouncer(quietMs = 1500, say = announce) {
  const bursts = new Map(); // key -> {timer, count, more}
  return (key, n, first, more) => {
    if (n <= 0) return;
    let b = bursts.get(key);
    if (!b) {
      say(first());
      b = { timer: 0, count: n - 1, more };
      bursts.set(key, b);
    } else {
      b.count += n;
      b.more = more;
    }
    clearTimeout(b.timer);
    b.timer = setTimeout(() => {
      bursts.delete(key);
      const text = b.count > 0 ? b.more(b.count) : "";
      if (text) say(text);
    }, quietMs);
  };
}

// One formatter per format, made on first use: toLocale*String with options builds a new Intl formatter on
// every call (a fraction of a millisecond each: a second of main thread for a 2,000-message backlog).
const formatters = new Map();
function dateFormat(kind, options) {
  let f = formatters.get(kind);
  if (!f) formatters.set(kind, (f = new Intl.DateTimeFormat([], options)));
  return f;
}

export function formatTime(ms) {
  return dateFormat("time", { hour: "2-digit", minute: "2-digit" }).format(ms);
}

export function formatDateTime(ms) {
  return dateFormat("datetime", {
    weekday: "short",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  }).format(ms);
}

export function formatDay(ms) {
  return dateFormat("day", { weekday: "long", month: "long", day: "numeric" }).format(ms);
}
