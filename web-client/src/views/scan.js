// Camera QR scanning shared by the safety-number and linking screens. The decoder is loaded on first use.
import { h } from "../lib/dom.js";

/** A hidden <video> and start()/stop(); start resolves with the first decoded text (or null if no camera). */
export function qrScanner() {
  const video = h("video", { class: "scan", muted: true, playsinline: true, hidden: true, "aria-label": "Camera preview" });
  let stream = null;
  const stop = () => {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.hidden = true;
  };
  const start = async () => {
    const { default: decodeQR } = await import("qr/decode.js");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true });
    } catch {
      return null;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    return new Promise((resolve) => {
      const tick = () => {
        if (!stream) return resolve(null);
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        if (canvas.width) {
          ctx.drawImage(video, 0, 0);
          const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
          let text = null;
          try {
            text = decodeQR({ width: img.width, height: img.height, data: img.data });
          } catch {
            text = null;
          }
          if (text) {
            stop();
            return resolve(text);
          }
        }
        requestAnimationFrame(tick);
      };
      tick();
    });
  };
  return { video, start, stop };
}
