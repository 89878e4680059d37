// Pure arithmetic on two snapshots of GET /api/v1/admin/health "metrics" (cumulative counters since the
// node started): rates per second and windowed latency percentiles. No DOM, so it is testable in Node.

/** Per-second rate of a cumulative counter between two snapshots; null when it cannot be known yet. */
export function rate(prev, cur, pick) {
  if (!prev || !cur) return null;
  const dt = (cur.at - prev.at) / 1000;
  if (dt <= 0) return null;
  const delta = pick(cur.metrics) - pick(prev.metrics);
  return delta < 0 ? null : delta / dt; // a restarted node starts its counters again at zero
}

/** The bucket counts observed between two snapshots: [[upper bound seconds, cumulative count], ...]. */
export function bucketDelta(prevBuckets, curBuckets) {
  const before = new Map((prevBuckets || []).map(([le, n]) => [le, n]));
  return curBuckets.map(([le, n]) => [le, n - (before.get(le) || 0)]);
}

/**
 * The q-quantile (0..1) of a histogram given as cumulative finite buckets plus the total count, with linear
 * interpolation inside the bucket (as Prometheus' histogram_quantile). Seconds; null without observations.
 */
export function quantile(q, buckets, total) {
  if (!total || total <= 0 || !buckets.length) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, cumulative] of buckets) {
    if (cumulative >= rank) {
      const inBucket = cumulative - below;
      return inBucket > 0 ? lower + ((le - lower) * (rank - below)) / inBucket : le;
    }
    lower = le;
    below = cumulative;
  }
  return buckets[buckets.length - 1][0]; // beyond the largest finite bound
}

/** Latency percentiles over the window between two snapshots (cumulative since start if no previous one). */
export function latencyWindow(prev, cur, qs = [0.5, 0.95, 0.99]) {
  const now = cur.metrics.delivery_latency;
  const then = prev ? prev.metrics.delivery_latency : { buckets: [], count: 0 };
  const buckets = bucketDelta(then.buckets, now.buckets);
  const total = now.count - then.count;
  return Object.fromEntries(qs.map((q) => [q, quantile(q, buckets, total)]));
}

/** A fixed-length history of numbers for a sparkline; null marks "unknown" and is drawn as a gap. */
export class Series {
  constructor(size = 60) {
    this.size = size;
    this.values = [];
  }
  push(v) {
    this.values.push(Number.isFinite(v) ? v : null);
    if (this.values.length > this.size) this.values.shift();
  }
  last() {
    return this.values.length ? this.values[this.values.length - 1] : null;
  }
}

export function formatNumber(v, digits = 0) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (Math.abs(v) >= 10000) return `${(v / 1000).toFixed(0)}k`;
  return v.toFixed(digits);
}

export function formatSeconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "–";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

// Times and dates written out by hand: the first use of Intl (toLocaleTimeString, toLocaleDateString,
// localeCompare) in a page loads the locale data, one task of 100-150 ms at a phone's speed, and the
// dashboard is the first screen after an administrator joins.
const two = (n) => String(n).padStart(2, "0");

/** "14:05" or, with seconds, "14:05:09" (local time, 24-hour). */
export function clockTime(ms, seconds = false) {
  const d = new Date(ms);
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return seconds ? `${hm}:${two(d.getSeconds())}` : hm;
}

/** "2026-11-29" (local date). */
export function isoDay(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}
