// The first screen after joining lays out text in sizes and weights the join form never used, and the first
// use of each makes the browser look a font up (on Linux, a fontconfig match: a few ms each, 4x that on a slow
// phone): together one long task when that screen first appears. While the person types their passphrase,
// this lays out one word in each of those fonts, a few per task, in an invisible box, so the lookups are done
// before they submit. The sizes and weights mirror styles.css and admin/admin.css (rem x 16 px).
import { h, nextTask } from "./dom.js";

const SIZES = [12, 12.8, 14, 14.4, 15.2, 16, 16.8, 19.2, 20, 24, 25.6, 30.4];
const WEIGHTS = [400, 500, 550, 600, 650, 700];
const MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
const PER_TASK = 6;

let started = false;

export async function warmFonts() {
  if (started) return;
  started = true;
  const box = h("div", { class: "font-warm", "aria-hidden": "true" });
  document.body.appendChild(box);
  const text = getComputedStyle(document.body).fontFamily;
  const fonts = [];
  for (const size of SIZES) for (const weight of WEIGHTS) fonts.push(`${weight} ${size}px ${text}`);
  for (const size of [14.4, 19.2]) fonts.push(`400 ${size}px ${MONO}`);
  fonts.push("400 16px ui-monospace, monospace");
  for (let i = 0; i < fonts.length; i += PER_TASK) {
    for (const font of fonts.slice(i, i + PER_TASK)) {
      const span = h("span", null, "Confidant 0123456789");
      span.style.font = font; // CSSOM, not a style attribute: allowed by the page's CSP
      box.appendChild(span);
    }
    void box.offsetWidth; // lay them out now, in this task
    await nextTask();
  }
  box.remove();
}
