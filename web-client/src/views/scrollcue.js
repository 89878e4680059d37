// A visible cue under a box that scrolls inside itself, while there is more text below (the terms box).
import { h } from "../lib/dom.js";

export function withScrollCue(box) {
  const cue = h("p", { class: "scroll-cue small", "aria-hidden": "true", hidden: true }, "More below ↓ scroll to read to the end");
  const update = () => (cue.hidden = box.scrollTop + box.clientHeight >= box.scrollHeight - 4);
  box.addEventListener("scroll", update, { passive: true });
  if (typeof ResizeObserver === "function") new ResizeObserver(update).observe(box);
  requestAnimationFrame(update);
  box.classList.add("has-scroll-cue");
  return [box, cue];
}
