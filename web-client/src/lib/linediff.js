// A line diff computed on the device (longest common subsequence of lines): what a terms change added and removed.

/** Lines of `before` and `after` as [{op: "same" | "add" | "del", text}], in reading order. */
export function lineDiff(before, after) {
  const a = before.split("\n");
  const b = after.split("\n");
  // Terms are at most 64 KB: a few hundred lines, so the quadratic table stays small.
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: "same", text: a[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push({ op: "del", text: a[i++] });
    else out.push({ op: "add", text: b[j++] });
  }
  while (i < n) out.push({ op: "del", text: a[i++] });
  while (j < m) out.push({ op: "add", text: b[j++] });
  return out;
}

/** True when the diff changes something other than blank lines. */
export function hasChanges(diff) {
  return diff.some((d) => d.op !== "same" && d.text.trim() !== "");
}
