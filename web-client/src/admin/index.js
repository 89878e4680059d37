// Placeholder for the administrator dashboard (issue 7). The web client's router loads this module for
// `#/admin` and calls `mount(container, device)`; the dashboard replaces this file.
export function mount(container) {
  const card = document.createElement("div");
  card.className = "card";
  const h1 = document.createElement("h1");
  h1.textContent = "Relay health";
  const p = document.createElement("p");
  p.className = "muted";
  p.textContent = "The administrator dashboard is coming soon. Administrators see aggregate figures only: never content.";
  card.append(h1, p);
  container.replaceChildren(card);
  return () => {};
}
