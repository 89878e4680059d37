// This account's devices: approve a new one (views/link.js), revoke others, idle lock, remove this browser.
import { h, announce, formatDateTime } from "../lib/dom.js";
import { confirmRemoval } from "./accountcards.js";
import { idleLockSection, removeAccountSection } from "./security.js";
import { approveLinkSection } from "./link.js";

export function devicesView(device) {
  const certified = (d) => d.device_id === device.me.device_id || (device.ownCertified || []).some((x) => x.device_id === d.device_id);
  const list = h("ul", { class: "session-list", "aria-label": "Your devices" });
  const render = () =>
    list.replaceChildren(
      ...device.devices.map((d) => {
        const mine = d.device_id === device.me.device_id;
        return h(
          "li",
          { class: "session-item" },
          h(
            "span",
            { class: "client-name" },
            mine ? "This browser" : `Device ${d.device_id.slice(0, 8)}`,
            h("span", { class: "client-sub" }, certified(d) ? `Added ${formatDateTime(d.created_at)}` : "Not approved by your account: it receives nothing"),
          ),
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
  const linking = approveLinkSection(device);
  const node = h(
    "div",
    { class: "page" },
    h(
      "section",
      { class: "card", "aria-labelledby": "devices-title" },
      h("h1", { id: "devices-title" }, "Your devices"),
      h("p", { class: "muted" }, "Each device has its own keys, certified by your account key when you approved it. The people you talk to see when you add one."),
      list,
    ),
    linking.node,
    idleLockSection(device),
    removeAccountSection(device),
  );
  return {
    node,
    cleanup: () => {
      device.removeEventListener("change", onChange);
      linking.cleanup();
    },
  };
}
