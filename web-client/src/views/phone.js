// Touch devices: Enter inserts a line break (a touch keyboard has no Shift+Enter); the Send button sends.

const coarse = typeof matchMedia === "function" ? matchMedia("(pointer: coarse)") : null;

/** True when Enter should send: a fine pointer (mouse, trackpad) is the primary input. */
export function enterSends() {
  return !(coarse && coarse.matches);
}
