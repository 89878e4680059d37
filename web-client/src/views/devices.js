// This account's devices: link a new one (shows a one-time link), revoke others.
import { h, announce, formatDateTime } from "../lib/dom.js";
import { confirmRemoval } from "./accountcards.js";

export function devicesView(device) {
  const list = h("ul", { class: "session-list", "aria-label": "Your devices" });
  const result = h("div", { "aria-live": "polite" });
  const render = () =>
    list.replaceChildren(
      ...device.devices.map((d) => {
        const mine = d.device_id === device.me.device_id;
        return h(
          "li",
          { class: "session-item" },
          h("span", { class: "client-name" }, mine ? "This browser" : `Device ${d.device_id.slice(0, 8)}`, h("span", { class: "client-sub" }, `Added ${formatDateTime(d.created_at)}`)),
          mine
            ? h("span", { class: "pill live" }, "In use")
            : h(
                "button",
                {
                  type: "button",
                  class: "secondary small",
                  onclick: (e) =>
                    confirmRemoval(e.currentTarget, device, d.device_id, async () => {
                      await device.revokeDevice(d.device_id);
                      announce("Device removed");
                      render();
                    }),
                },
                "Remove",
              ),
        );
      }),
    );
  const onChange = (e) => e.detail.what === "contacts" && render();
  device.addEventListener("change", onChange);
  render();
  const linkBtn = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        const { code, expires_at: exp } = await device.createLinkCode();
        const url = `${location.origin}/#/link/${code}`;
        result.replaceChildren(
          h(
            "div",
            { class: "notice info" },
            h("p", null, `Open this link on the new device before ${formatDateTime(exp)}. It works once.`),
            h("div", { class: "link-box", "data-testid": "link-device-url" }, url),
          ),
        );
        announce("Device link created");
      },
    },
    "Link a new device",
  );
  const node = h(
    "div",
    { class: "page" },
    h(
      "section",
      { class: "card", "aria-labelledby": "devices-title" },
      h("h1", { id: "devices-title" }, "Your devices"),
      h("p", { class: "muted" }, "Each device has its own keys. The people you talk to are told when you add or remove one."),
      list,
    ),
    h("section", { class: "card" }, h("h2", null, "Add a device"), linkBtn, result),
  );
  return { node, cleanup: () => device.removeEventListener("change", onChange) };
}
