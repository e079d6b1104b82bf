// The media stream's door: the upgrade signature is the same for every stream (Twilio drops query
// strings), so a stream is admitted only with a `start` that our webhook minted a token for, of our
// account, and only one live stream per call. A refused socket hears nothing and is closed 1008
// before a greeting plays or a core link opens. (The core here is unreachable: an admitted call
// ends with 1011 "core unreachable", which is how these tests tell admitted from refused.)
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { STREAM_TOKEN_PARAMETER } from "@voice/protocol/stream-token";
import { twilioSignature } from "@voice/protocol/twilio-signature";
import { startMessage } from "../../infra/twilio/media-stream-frames.js";
import { LOCAL_ACCOUNT_SID, signedStart, streamIds } from "../../infra/twilio/stream-start.js";
import { START_TIMEOUT_MS } from "./media.js";
import { mediaStreamUrl } from "./signature.js";

interface Stream {
  socket: WebSocket;
  received: string[];
  closed: Promise<CloseEvent>;
}

/** Opens the media stream with the real upgrade signature, as Twilio (or anyone who saw it once) does. */
async function openStream(): Promise<Stream> {
  const signature = await twilioSignature(env.TWILIO_AUTH_TOKEN, mediaStreamUrl(env.PUBLIC_URL), {});
  const response = await exports.default.fetch("http://edge.internal/twilio/media", {
    headers: { upgrade: "websocket", "x-twilio-signature": signature },
  });
  expect(response.status).toBe(101);
  const socket = response.webSocket!;
  const received: string[] = [];
  socket.addEventListener("message", (event) => received.push(String(event.data)));
  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
  socket.accept();
  return { socket, received, closed };
}

/** Sends `start` and resolves with how the socket closed and how long after the start it did. */
async function afterStart(stream: Stream, start: object): Promise<{ code: number; reason: string; ms: number }> {
  const sentAt = Date.now();
  stream.socket.send(JSON.stringify(start));
  const close = await stream.closed;
  return { code: close.code, reason: close.reason, ms: Date.now() - sentAt };
}

/** `read()` again until `done` holds of its value, for up to 3 s; the last value either way. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 3_000;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await read();
  }
  return value;
}

describe("GET /twilio/media", () => {
  it("admits a call with its stream token, after ignoring malformed frames (then hangs up: no core)", async () => {
    const stream = await openStream();
    const start = await signedStart(streamIds(1), env.STREAM_TOKEN_SECRET);
    stream.socket.send(new Uint8Array([1, 2, 3]));
    stream.socket.send("not json");
    stream.socket.send(JSON.stringify({ event: "media", streamSid: start.streamSid })); // before start
    stream.socket.send(JSON.stringify({ ...start, streamSid: "" })); // invalid start: the call waits for a good one
    const close = await afterStart(stream, start);
    expect(close).toMatchObject({ code: 1011, reason: "core unreachable" });
  });

  it("refuses a forged start within a second, before any greeting: no token, another call's token, an expired one, another account, a made-up SID", async () => {
    const ids = streamIds(2);
    const theirs = await signedStart(streamIds(3), env.STREAM_TOKEN_SECRET);
    const forged = [
      startMessage(1, ids, { callSid: ids.callSid }),
      // A token seen on another call does not open this one.
      startMessage(1, ids, { callSid: ids.callSid, [STREAM_TOKEN_PARAMETER]: theirs.start.customParameters[STREAM_TOKEN_PARAMETER]! }),
      await signedStart(ids, env.STREAM_TOKEN_SECRET, { nowMs: Date.now() - 61_000 }),
      await signedStart(ids, "a key that is not ours"),
      await signedStart({ ...ids, accountSid: "AC" + "e".repeat(32) }, env.STREAM_TOKEN_SECRET),
      await signedStart({ ...ids, callSid: "CA-made-up" }, env.STREAM_TOKEN_SECRET),
    ];
    for (const start of forged) {
      const stream = await openStream();
      const close = await afterStart(stream, start);
      expect(close).toMatchObject({ code: 1008, reason: "stream refused" });
      expect(close.ms).toBeLessThan(1000);
      expect(stream.received).toEqual([]); // no greeting, nothing at all
    }
  });

  it("keeps one live stream per call: a second stream of a held call is refused; once the holder lets go it is admitted", async () => {
    const ids = streamIds(4);
    const ledger = env.CALLS.get(env.CALLS.idFromName(ids.callSid));
    expect(await ledger.claim("an earlier stream")).toMatchObject({ ok: true });
    const second = await openStream();
    expect(await afterStart(second, await signedStart(ids, env.STREAM_TOKEN_SECRET))).toMatchObject({ code: 1008, reason: "stream refused" });
    expect(second.received).toEqual([]);

    await ledger.release("an earlier stream");
    const third = await openStream();
    expect(await afterStart(third, await signedStart(ids, env.STREAM_TOKEN_SECRET))).toMatchObject({ code: 1011, reason: "core unreachable" });
    // The admitted stream lets the call go as it ends (the release follows the close by a moment).
    const claimed = async () => (await ledger.claim("a later stream")).ok;
    expect(await eventually(claimed, (ok) => ok)).toBe(true);
  });

  it("closes a socket that sends no valid start in time (1008)", async () => {
    const stream = await openStream();
    const openedAt = Date.now();
    stream.socket.send(JSON.stringify({ event: "connected", protocol: "Call", version: "1.0.0" }));
    const close = await stream.closed;
    expect(close).toMatchObject({ code: 1008, reason: "no valid start in time" });
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(START_TIMEOUT_MS - 50);
    expect(stream.received).toEqual([]);
  }, START_TIMEOUT_MS + 15_000);

  it("the local account is the one wrangler.toml configures", () => {
    expect(env.TWILIO_ACCOUNT_SID).toBe(LOCAL_ACCOUNT_SID);
  });
});
