// The buffer that holds a caller's frames while the first core link opens, in workerd: bounded by
// MAX_PENDING_CHARS. A caller sending what Twilio sends (10 s of media, longer than an open may
// take) loses nothing; past the cap the newest frames are dropped and counted, the call goes on,
// and the core hears the oldest, in order. The core is faked in this isolate: the worker's fetch of
// CORE_URL + "/call" is held until the test lets the link open.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mediaMessage, startMessage } from "../../infra/twilio/media-stream-frames.js";
import { CoreSession, MAX_PENDING_CHARS, type CallSide } from "./core-session.js";
import type { Env } from "./env.js";
import { DEFAULT_RECONNECT_POLICY } from "./reconnect-policy.js";

const CORE_URL = "http://core.slow.test";
const TEST_ENV: Env = { ...env, CORE_URL };
const IDS = { accountSid: "AC0001", callSid: "CA00000000000000000000000000000S10", streamSid: "MZ00000000000000000000000000000S10" };
const START = JSON.stringify(startMessage(1, IDS, {}));

/** A media frame as Twilio sends it: 20 ms of audio, ~350 characters. */
const media = (n: number) => JSON.stringify(mediaMessage(n + 2, IDS.streamSid, n, new Uint8Array(160).fill(n % 256)));

/** The caller's side as the session sees it: what it was told to do. */
function callSide() {
  const ended: string[] = [];
  const side: CallSide = {
    callSid: IDS.callSid,
    toCaller: () => {},
    playHold: () => {},
    drop: () => {},
    end: (reason) => void ended.push(reason),
    coreGone: (_how, reason) => void ended.push(reason),
    coreEnded: () => {},
    noteState: () => {},
  };
  return { side, ended };
}

/** The core's end of the call link: every frame it received. */
function coreEnd(socket: WebSocket) {
  const received: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  socket.addEventListener("message", (event) => {
    received.push(String(event.data));
    for (const waiter of waiters.filter((w) => received.length >= w.count)) waiter.resolve();
  });
  socket.addEventListener("close", () => socket.close()); // workerd wants both ends closed
  socket.accept();
  return {
    received,
    /** Resolves once `count` frames arrived; fails after a generous bound (a loaded CI machine). */
    until(count: number): Promise<string[]> {
      if (received.length >= count) return Promise.resolve(received);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the core got ${received.length} of ${count} frames`)), 10_000);
        waiters.push({ count, resolve: () => (clearTimeout(timer), resolve(received)) });
      });
    },
  };
}

describe("the caller's frames while the first core link opens", () => {
  afterEach(() => vi.restoreAllMocks());

  it("keeps 10 s of Twilio's media whole, and past MAX_PENDING_CHARS drops and counts the newest while the call goes on", async () => {
    // The core accepts the link only when the test says so.
    let letOpen!: () => void;
    const opened = new Promise<void>((resolve) => (letOpen = resolve));
    const [workerEnd, coreSocket] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    const core = coreEnd(coreSocket);
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const request = new Request(input, init);
      expect(request.url).toBe(`${CORE_URL}/call`);
      await opened;
      return new Response(null, { status: 101, webSocket: workerEnd });
    });
    const warnings: Record<string, unknown>[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => {
      const text = String(line);
      warnings.push(text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : { raw: text });
    });
    vi.spyOn(console, "log").mockImplementation(() => {});

    const { side, ended } = callSide();
    const session = new CoreSession(TEST_ENV, side, DEFAULT_RECONNECT_POLICY, START);
    const opening = session.open(Promise.resolve(true));

    // Ten seconds of a phone line (50 frames a second): longer than the first open may wait.
    const sent: string[] = [];
    const forward = (from: number, to: number) => {
      for (let n = from; n < to; n++) {
        const frame = media(n);
        sent.push(frame);
        session.forward(frame);
      }
    };
    forward(0, 500);
    expect(session.stats.droppedWhileOpening).toBe(0);
    expect(warnings).toEqual([]);

    // Then far more than a phone line sends: the buffer stops at the cap.
    forward(500, 1500);
    let fits = 0;
    for (let chars = 0; fits < sent.length && chars + sent[fits]!.length <= MAX_PENDING_CHARS; fits++) chars += sent[fits]!.length;
    expect(fits).toBeGreaterThan(500);
    expect(fits).toBeLessThan(sent.length);
    expect(session.stats.droppedWhileOpening).toBe(sent.length - fits);
    // One line for the operator, however many frames went.
    expect(warnings).toEqual([
      expect.objectContaining({ severity: "WARNING", message: "caller frames dropped: the core link is slow to open", call_id: IDS.callSid, maxPendingChars: MAX_PENDING_CHARS }),
    ]);

    // The core comes: it hears the start, the greeting, then the oldest frames in order; the call goes on.
    letOpen();
    await opening;
    const later = media(1500);
    session.forward(later);
    const received = await core.until(2 + fits + 1);
    expect(received[0]).toBe(START);
    expect(JSON.parse(received[1]!)).toMatchObject({ event: "edge.greeting", played: true });
    expect(received.slice(2)).toEqual([...sent.slice(0, fits), later]);
    expect(ended).toEqual([]);

    session.close(1000, "test over");
  });
});
