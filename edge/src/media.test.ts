import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { twilioSignature } from "@voice/protocol/twilio-signature";
import { startMessage } from "../../infra/twilio/media-stream-frames.js";
import { mediaStreamUrl } from "./signature.js";

async function openStream(): Promise<WebSocket> {
  const signature = await twilioSignature(env.TWILIO_AUTH_TOKEN, mediaStreamUrl(env.PUBLIC_URL), {});
  const response = await exports.default.fetch("http://edge.internal/twilio/media", {
    headers: { upgrade: "websocket", "x-twilio-signature": signature },
  });
  expect(response.status).toBe(101);
  const socket = response.webSocket!;
  socket.accept();
  return socket;
}

const START = startMessage(1, { accountSid: "AC0001", callSid: "CA0001", streamSid: "MZ0001" }, {});

describe("GET /twilio/media", () => {
  it("hangs up cleanly when the core cannot be reached, after ignoring malformed frames", async () => {
    const socket = await openStream();
    const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
    socket.send(new Uint8Array([1, 2, 3]));
    socket.send("not json");
    socket.send(JSON.stringify({ event: "media", streamSid: "MZ0001" })); // before start
    socket.send(JSON.stringify({ ...START, streamSid: "" })); // invalid start: the call waits for a good one
    socket.send(JSON.stringify(START));
    const close = await closed;
    expect(close.code).toBe(1011);
    expect(close.reason).toBe("core unreachable");
  });
});
