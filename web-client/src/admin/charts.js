// Sparklines as inline SVG built with DOM calls: no chart library, no inline style (strict CSP), no
// third-party origin. Colours come from admin.css classes.

const SVG = "http://www.w3.org/2000/svg";
const W = 160;
const H = 36;

function el(name, attrs) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** An empty sparkline; update(values, capacity) draws numbers or nulls (gaps), newest at the right edge. */
export function sparkline(label) {
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "spark", role: "img", "aria-label": label, preserveAspectRatio: "none" });
  const area = el("path", { class: "spark-area", d: "" });
  const line = el("path", { class: "spark-line", d: "" });
  svg.append(area, line);
  return {
    node: svg,
    update(values, capacity = values.length) {
      const known = values.filter((v) => v !== null);
      if (!known.length) {
        line.setAttribute("d", "");
        area.setAttribute("d", "");
        return;
      }
      const max = Math.max(...known, 1e-9);
      const slots = Math.max(capacity, values.length, 2);
      const step = W / (slots - 1);
      const offset = slots - values.length; // a short history grows in from the right
      let d = "";
      let fill = "";
      let open = false;
      let start = 0;
      let lastX = 0;
      values.forEach((v, i) => {
        if (v === null) {
          if (open) fill += `L${lastX.toFixed(1)},${H}L${start.toFixed(1)},${H}Z`;
          open = false;
          return;
        }
        const x = (offset + i) * step;
        const y = H - 2 - (v / max) * (H - 4);
        d += `${open ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
        fill += open ? `L${x.toFixed(1)},${y.toFixed(1)}` : `M${x.toFixed(1)},${H}L${x.toFixed(1)},${y.toFixed(1)}`;
        if (!open) start = x;
        open = true;
        lastX = x;
      });
      if (open) fill += `L${lastX.toFixed(1)},${H}L${start.toFixed(1)},${H}Z`;
      line.setAttribute("d", d);
      area.setAttribute("d", fill);
    },
  };
}
